/* faxserver's C shim over libspandsp 0.0.6 and libtiff: what bindgen cannot bind. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include "shim.h"

uint8_t faxsrv_linear_to_alaw(int16_t linear) { return linear_to_alaw(linear); }
int16_t faxsrv_alaw_to_linear(uint8_t alaw) { return alaw_to_linear(alaw); }
uint8_t faxsrv_linear_to_ulaw(int16_t linear) { return linear_to_ulaw(linear); }
int16_t faxsrv_ulaw_to_linear(uint8_t ulaw) { return ulaw_to_linear(ulaw); }

static faxsrv_tiff_message_fn tiff_message_handler = NULL;

static void forward(int is_error, const char *module, const char *fmt, va_list ap)
{
    char text[1024];
    faxsrv_tiff_message_fn handler = tiff_message_handler;
    if (handler == NULL)
        return;
    vsnprintf(text, sizeof(text), fmt, ap);
    handler(is_error, module ? module : "", text);
}

static void tiff_error(const char *module, const char *fmt, va_list ap) { forward(1, module, fmt, ap); }
static void tiff_warning(const char *module, const char *fmt, va_list ap) { forward(0, module, fmt, ap); }

void faxsrv_set_tiff_message_handler(faxsrv_tiff_message_fn handler)
{
    tiff_message_handler = handler;
    TIFFSetErrorHandler(tiff_error);
    TIFFSetWarningHandler(tiff_warning);
}

void *faxsrv_tiff_open(const char *path)
{
    return TIFFOpen(path, "r");
}

void faxsrv_tiff_read_page(void *tiff, int decode, faxsrv_tiff_page_t *info)
{
    TIFF *tif = (TIFF *) tiff;
    tstrip_t strip;
    tstrip_t strips;
    tmsize_t size;
    tdata_t buf;

    memset(info, 0, sizeof(*info));
    TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEWIDTH, &info->width);
    TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGELENGTH, &info->length);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &info->bits_per_sample);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &info->samples_per_pixel);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &info->compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &info->resolution_unit);
    if (!TIFFGetField(tif, TIFFTAG_XRESOLUTION, &info->x_resolution))
        info->x_resolution = 0.0f;
    if (!TIFFGetField(tif, TIFFTAG_YRESOLUTION, &info->y_resolution))
        info->y_resolution = 0.0f;
    info->decodes = 1;
    if (!decode)
        return;
    info->decodes = 0;
    size = TIFFStripSize(tif);
    if (size <= 0 || (buf = _TIFFmalloc(size)) == NULL)
        return;
    info->decodes = 1;
    strips = TIFFNumberOfStrips(tif);
    for (strip = 0;  strip < strips;  strip++)
    {
        if (TIFFReadEncodedStrip(tif, strip, buf, size) < 0)
        {
            info->decodes = 0;
            break;
        }
    }
    _TIFFfree(buf);
}

int faxsrv_tiff_next_page(void *tiff)
{
    return TIFFReadDirectory((TIFF *) tiff);
}

void faxsrv_tiff_close(void *tiff)
{
    TIFFClose((TIFF *) tiff);
}
