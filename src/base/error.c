/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * error.c -- the error table of base.h: names, messages and HTTP statuses of the
 * project's own error codes. Pure data; thread-safe.
 */
#include "base.h"

const char *pt_error_name(int err)
{
    switch (err) {
#define PT_ERROR_NAME(name, code, status, msg) \
    case code:                                 \
        return #name;
        PT_ERROR_MAP(PT_ERROR_NAME)
#undef PT_ERROR_NAME
    }
    return "UNKNOWN";
}

const char *pt_error_message(int err)
{
    switch (err) {
#define PT_ERROR_MSG(name, code, status, msg) \
    case code:                                \
        return msg;
        PT_ERROR_MAP(PT_ERROR_MSG)
#undef PT_ERROR_MSG
    }
    return "internal error";
}

int pt_error_status(int err)
{
    switch (err) {
#define PT_ERROR_STATUS(name, code, status, msg) \
    case code:                                   \
        return status;
        PT_ERROR_MAP(PT_ERROR_STATUS)
#undef PT_ERROR_STATUS
    }
    return 500;
}
