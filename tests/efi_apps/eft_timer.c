/* SPDX-License-Identifier: MIT */
/* The tracer without its tracing: times an image from StartImage() to ExitBootServices() on the
 * serial port (see eft_tracer.c). */
#define EFT_TRACER_TIMING_ONLY 1
#include "eft_tracer.c"
