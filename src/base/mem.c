/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * mem.c -- heap helpers and the request arena of base.h.
 *
 * Heap exhaustion aborts (STYLE.md §3): growth that a client drives is bounded
 * by the callers before it reaches these functions.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

static void die_oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *pt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        die_oom(n);
    return p;
}

void *pt_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        die_oom(count * size);
    return p;
}

void *pt_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        die_oom(n);
    return q;
}

char *pt_xstrndup(const char *s, size_t n)
{
    char *p = pt_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct pt_arena_block {
    struct pt_arena_block *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    max_align_t data[];
};

struct pt_arena_cleanup {
    struct pt_arena_cleanup *next;
    void (*fn)(void *data);
    void *data;
};

#define ALIGN (_Alignof(max_align_t))

static struct pt_arena_block *block_new(size_t size)
{
    struct pt_arena_block *b = pt_xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void pt_arena_init(struct pt_arena *a, size_t block_size)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
}

static void run_cleanups(struct pt_arena *a)
{
    /* Cleanups may allocate from the arena; they are detached first. */
    while (a->cleanups != NULL) {
        struct pt_arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
    }
}

void pt_arena_deinit(struct pt_arena *a)
{
    run_cleanups(a);
    while (a->head != NULL) {
        struct pt_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
}

void pt_arena_reset(struct pt_arena *a)
{
    run_cleanups(a);
    if (a->head == NULL)
        return;
    /* Keep the oldest block (the first one allocated, of the default size). */
    struct pt_arena_block *keep = a->head;
    while (keep->next != NULL) {
        struct pt_arena_block *b = keep;
        keep = keep->next;
        free(b);
    }
    keep->used = 0;
    a->head = keep;
}

void *pt_arena_alloc(struct pt_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
    if (need == 0)
        need = ALIGN;
    struct pt_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;
        if (b != NULL && size < b->size * 2 && need <= b->size * 2)
            size = b->size * 2;
        struct pt_arena_block *nb = block_new(size);
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    return p;
}

char *pt_arena_strndup(struct pt_arena *a, const char *s, size_t n)
{
    char *p = pt_arena_alloc(a, n + 1);
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void pt_arena_defer(struct pt_arena *a, void (*fn)(void *data), void *data)
{
    struct pt_arena_cleanup *c = pt_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}

struct pt_shared *pt_shared_alloc(size_t n)
{
    struct pt_shared *m = pt_xmalloc(sizeof(*m) + n + 1);
    m->refs = 1;
    m->len = n;
    m->data[n] = '\0';
    return m;
}

struct pt_shared *pt_shared_new(const void *p, size_t n)
{
    struct pt_shared *m = pt_shared_alloc(n);
    if (n > 0)
        memcpy(m->data, p, n);
    return m;
}

struct pt_shared *pt_shared_ref(struct pt_shared *m)
{
    m->refs++;
    return m;
}

void pt_shared_unref(struct pt_shared *m)
{
    if (m != NULL && --m->refs == 0)
        free(m);
}
