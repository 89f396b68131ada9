/* faxserver's C shim over libspandsp 0.0.6 and libtiff: what bindgen cannot bind. */
#include <stdarg.h>
#include <stdio.h>
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
