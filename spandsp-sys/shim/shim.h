/* faxserver's C shim over libspandsp 0.0.6 and libtiff: what bindgen cannot bind. */
#ifndef FAXSERVER_SPANDSP_SHIM_H
#define FAXSERVER_SPANDSP_SHIM_H

#include <stdint.h>
#include <spandsp.h>

/* G.711 helpers that spandsp declares `static inline` (bindgen cannot emit those). */
uint8_t faxsrv_linear_to_alaw(int16_t linear);
int16_t faxsrv_alaw_to_linear(uint8_t alaw);
uint8_t faxsrv_linear_to_ulaw(int16_t linear);
int16_t faxsrv_ulaw_to_linear(uint8_t ulaw);

/* libtiff reports through process-global variadic handlers (va_list); this formats the
 * message and hands it to a plain callback, or discards it when the callback is NULL. */
typedef void (*faxsrv_tiff_message_fn)(int is_error, const char *module, const char *message);
void faxsrv_set_tiff_message_handler(faxsrv_tiff_message_fn handler);

/* One page of a TIFF as libtiff reads it, for checking a file before a call uses it. */
typedef struct faxsrv_tiff_page_s {
    uint32_t width;
    uint32_t length;
    uint16_t bits_per_sample;
    uint16_t samples_per_pixel;
    uint16_t compression;
    uint16_t resolution_unit; /* 1 none, 2 inch, 3 centimetre */
    float x_resolution;
    float y_resolution;
    int decodes; /* 1 when every strip decoded without a libtiff error */
} faxsrv_tiff_page_t;

/* Walks the pages of a TIFF with one open file. `faxsrv_tiff_open` returns NULL when the file
 * cannot be opened as a TIFF. `faxsrv_tiff_read_page` describes the current page, decoding
 * every strip only when `decode` is nonzero (that catches corrupt image data, at a cost of
 * milliseconds per page). `faxsrv_tiff_next_page` moves on and returns 0 after the last. */
void *faxsrv_tiff_open(const char *path);
void faxsrv_tiff_read_page(void *tiff, int decode, faxsrv_tiff_page_t *info);
int faxsrv_tiff_next_page(void *tiff);
void faxsrv_tiff_close(void *tiff);

#endif
