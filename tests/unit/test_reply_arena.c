/*
 * test_reply_arena.c - replies built in a reply arena by a real hiredis
 * reader: the same trees as hiredis builds, nested arrays, nil, integers,
 * long strings, replies split across reads, reuse after each free, and
 * an unfinished reply freed with its reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "reply_arena.h"

struct fixture {
    struct reply_arena *arena;
    redisReader *reader;
};

static int setup(void **state)
{
    static struct fixture f;

    f.arena = reply_arena_new();
    f.reader = redisReaderCreate();
    if (f.arena == NULL || f.reader == NULL)
        return -1;
    reply_arena_attach(f.arena, f.reader);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    redisReaderFree(f->reader);
    reply_arena_free(f->arena);
    return 0;
}

/* Feeds text and returns the reply it completes, or NULL. */
static redisReply *feed(struct fixture *f, const char *text)
{
    void *reply = NULL;

    assert_int_equal(redisReaderFeed(f->reader, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_OK);
    return reply;
}

static void reply_arena_hash_reply(void **state)
{
    struct fixture *f = *state;
    redisReply *r = feed(f, "*4\r\n$5\r\nopens\r\n$2\r\n12\r\n$11\r\nrevenue:EUR\r\n$4\r\n-495\r\n");

    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 4);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[0]->str, "opens");
    assert_int_equal(r->element[0]->len, 5);
    assert_string_equal(r->element[3]->str, "-495");
    f->reader->fn->freeObject(r);
}

static void reply_arena_nested_and_scalars(void **state)
{
    struct fixture *f = *state;
    redisReply *r = feed(f, "*3\r\n:42\r\n$-1\r\n*2\r\n+OK\r\n-ERR no\r\n");

    assert_non_null(r);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->element[0]->integer, 42);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[2]->element[0]->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->element[2]->element[0]->str, "OK");
    assert_int_equal(r->element[2]->element[1]->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->element[2]->element[1]->str, "ERR no");
    f->reader->fn->freeObject(r);

    r = feed(f, "*0\r\n");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 0);
    f->reader->fn->freeObject(r);
}

/* A reply larger than a block, split over several reads, then many small
 * replies, each freed before the next: the arena grows and is reused. */
static void reply_arena_large_and_split(void **state)
{
    struct fixture *f = *state;
    static char big[200 * 1024 + 64];
    size_t n = 200 * 1024;
    redisReply *r;

    memcpy(big, "$204800\r\n", 9);
    memset(big + 9, 'x', n);
    memcpy(big + 9 + n, "\r\n", 3);
    assert_null(feed(f, "*2\r\n:1\r\n"));
    r = feed(f, big);
    assert_non_null(r);
    assert_int_equal(r->element[1]->len, n);
    assert_int_equal(r->element[1]->str[n - 1], 'x');
    assert_int_equal(r->element[1]->str[n], '\0');
    f->reader->fn->freeObject(r);

    for (int i = 0; i < 10000; i++) {
        r = feed(f, "*2\r\n$1\r\na\r\n:7\r\n");
        assert_non_null(r);
        assert_int_equal(r->element[1]->integer, 7);
        f->reader->fn->freeObject(r);
    }

    /* Left unfinished: freeing the reader frees it through the arena. */
    assert_null(feed(f, "*2\r\n:1\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_arena_hash_reply),
        cmocka_unit_test(reply_arena_nested_and_scalars),
        cmocka_unit_test(reply_arena_large_and_split),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
