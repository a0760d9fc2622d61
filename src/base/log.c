/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * log.c -- one-line log records on stderr. The level is set once by main()
 * before threads start; each record is written with a single fprintf, which
 * stdio locks, so lines from executor threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "base.h"

static enum pt_log_level log_level = PT_LOG_INFO;

void pt_log_set_level(enum pt_log_level level)
{
    log_level = level;
}

void pt_log(enum pt_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], msg);
}
