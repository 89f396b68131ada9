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

#endif
