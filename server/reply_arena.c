/*
 * reply_arena.c - the reply arena of reply_arena.h.
 *
 * Every redisReply is preceded by a pointer to its arena, because
 * freeObject receives the object alone. Memory comes in blocks of at
 * least BLOCK_SIZE bytes. Emptying the arena keeps the first block and
 * frees the others, so a connection that reads small replies keeps one
 * block and allocates nothing per reply.
 */
#include "reply_arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define BLOCK_SIZE (64 * 1024)

struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
};

struct reply_arena {
    struct block *first; /* kept when the arena is emptied */
    struct block *current;
    uint64_t replies;    /* whole replies freed */
};

/* A reply object as the arena lays it out. */
struct arena_reply {
    struct reply_arena *arena;
    redisReply reply;
};

struct reply_arena *reply_arena_new(void)
{
    return calloc(1, sizeof(struct reply_arena));
}

static void free_blocks(struct block *b)
{
    while (b != NULL) {
        struct block *next = b->next;

        free(b);
        b = next;
    }
}

void reply_arena_free(struct reply_arena *a)
{
    if (a == NULL)
        return;
    free_blocks(a->first);
    free(a);
}

/* Returns size bytes aligned for any object, or NULL out of memory. */
static void *arena_alloc(struct reply_arena *a, size_t size)
{
    struct block *b = a->current;
    size_t aligned = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);

    if (b == NULL || b->size - b->used < aligned) {
        size_t data_size = aligned > BLOCK_SIZE ? aligned : BLOCK_SIZE;

        b = malloc(sizeof(*b) + data_size);
        if (b == NULL)
            return NULL;
        b->next = NULL;
        b->size = data_size;
        b->used = 0;
        if (a->current != NULL)
            a->current->next = b;
        else
            a->first = b;
        a->current = b;
    }
    b->used += aligned;
    return b->data + b->used - aligned;
}

static void arena_empty(struct reply_arena *a)
{
    if (a->first == NULL)
        return;
    free_blocks(a->first->next);
    a->first->next = NULL;
    a->first->used = 0;
    a->current = a->first;
}

/* Allocates a reply object of type for task and links it into its parent
 * array, as hiredis's own functions do. */
static redisReply *create(const redisReadTask *task, int type)
{
    struct reply_arena *a = task->privdata;
    struct arena_reply *r = arena_alloc(a, sizeof(*r));

    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->arena = a;
    r->reply.type = type;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;

        parent->element[task->idx] = &r->reply;
    }
    return &r->reply;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = create(task, task->type);
    char *copy = r != NULL ? arena_alloc(((struct reply_arena *)task->privdata), len + 1) : NULL;

    if (copy == NULL)
        return NULL;
    memcpy(copy, str, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReply *r = create(task, REDIS_REPLY_ARRAY);

    if (r == NULL)
        return NULL;
    if (elements > 0) {
        r->element = arena_alloc(task->privdata, (size_t)elements * sizeof(r->element[0]));
        if (r->element == NULL)
            return NULL;
        memset(r->element, 0, (size_t)elements * sizeof(r->element[0]));
    }
    r->elements = (size_t)elements;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = create(task, REDIS_REPLY_INTEGER);

    if (r != NULL)
        r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return create(task, REDIS_REPLY_NIL);
}

/* Frees a whole reply, which is all the arena contains. */
static void free_object(void *reply)
{
    struct arena_reply *r;

    if (reply == NULL)
        return;
    r = (struct arena_reply *)((char *)reply - offsetof(struct arena_reply, reply));
    r->arena->replies++;
    arena_empty(r->arena);
}

static redisReplyObjectFunctions arena_functions = {
    create_string, create_array, create_integer, create_nil, free_object,
};

void reply_arena_attach(struct reply_arena *a, redisReader *reader)
{
    arena_empty(a);
    reader->fn = &arena_functions;
    reader->privdata = a;
}

uint64_t reply_arena_replies(const struct reply_arena *a)
{
    return a->replies;
}
