/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eop_data.c -- the Earth-orientation data shipped with the source (data/iers/):
 * IERS finals2000A.all and Leap_Second.dat, compiled into the binary so that the
 * server has real UT1 and leap seconds with nothing on disk. The files are
 * included byte for byte by the assembler (.incbin), each followed by a NUL.
 */
#include "app/app.h"

#ifndef PT_DATA_DIR
#define PT_DATA_DIR "data"
#endif

__asm__(".section .rodata\n"
        ".globl pt_eop_finals_start, pt_eop_finals_end, pt_eop_leap_start, pt_eop_leap_end\n"
        ".hidden pt_eop_finals_start, pt_eop_finals_end, pt_eop_leap_start, pt_eop_leap_end\n"
        ".balign 16\n"
        "pt_eop_finals_start:\n"
        ".incbin \"" PT_DATA_DIR "/iers/finals2000A.all\"\n"
        "pt_eop_finals_end:\n"
        ".byte 0\n"
        ".balign 16\n"
        "pt_eop_leap_start:\n"
        ".incbin \"" PT_DATA_DIR "/iers/Leap_Second.dat\"\n"
        "pt_eop_leap_end:\n"
        ".byte 0\n"
        ".previous\n");

extern const char pt_eop_finals_start[], pt_eop_finals_end[];
extern const char pt_eop_leap_start[], pt_eop_leap_end[];

struct pt_str app_eop_embedded_finals(void)
{
    return pt_str_make(pt_eop_finals_start, (size_t)(pt_eop_finals_end - pt_eop_finals_start));
}

struct pt_str app_eop_embedded_leap_seconds(void)
{
    return pt_str_make(pt_eop_leap_start, (size_t)(pt_eop_leap_end - pt_eop_leap_start));
}
