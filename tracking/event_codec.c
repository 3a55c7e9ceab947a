/*
 * event_codec.c - encoding and strict decoding of event records.
 *
 * The decoder accepts exactly what the encoder can produce: every id passes
 * the checks the handlers applied before the event was made, and a record
 * with bytes left over is rejected. A record that decodes is therefore safe
 * to turn into Redis keys, whatever the journal file contained.
 */
#include "event_codec.h"

#include <stdbool.h>
#include <string.h>

#include "device.h"
#include "money.h"

/* ---- writing ------------------------------------------------------- */

struct writer {
    uint8_t *p;
    size_t left;
    bool overflow;
};

static void put_bytes(struct writer *w, const void *src, size_t n)
{
    if (w->overflow || n > w->left) {
        w->overflow = true;
        return;
    }
    memcpy(w->p, src, n);
    w->p += n;
    w->left -= n;
}

static void put_u8(struct writer *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4];

    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (24 - 8 * i));
    put_bytes(w, b, sizeof(b));
}

static void put_u64(struct writer *w, uint64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    put_bytes(w, b, sizeof(b));
}

static void put_str(struct writer *w, const char *s)
{
    size_t len = strlen(s);

    put_u8(w, (uint8_t)len);
    put_bytes(w, s, len);
}

static void put_touch(struct writer *w, const struct event_touch *t)
{
    put_str(w, t->campaign);
    put_str(w, t->message);
    put_u32(w, t->link);
    put_bytes(w, t->reader, TOKEN_READER_LEN);
    put_bytes(w, t->click_id, TOKEN_CLICK_ID_LEN);
    put_u32(w, t->time);
    put_u8(w, t->verdict);
}

/* ---- field checks, shared by both directions ------------------------ */

static bool id_ok(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);

    return len <= max && token_id_valid(s, len);
}

/* An order id is 1 to EVENT_ORDER_MAX bytes without control bytes, the
 * rule the beacon parser applies. */
static bool order_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > EVENT_ORDER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool currency_ok(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[3] == '\0';
}

/* Refunds will carry negative amounts, so both signs are accepted. */
static bool revenue_ok(int64_t v)
{
    return v >= -MONEY_MINOR_MAX && v <= MONEY_MINOR_MAX;
}

static bool touch_ok(const struct event_touch *t)
{
    return id_ok(t->campaign, TOKEN_ID_MAX) && id_ok(t->message, TOKEN_ID_MAX) &&
           t->verdict < EVENT_VERDICT_LIMIT;
}

static bool kind_is_touch(enum event_kind kind)
{
    return kind == EVENT_OPEN || kind == EVENT_CLICK;
}

/* Flag bits of a checkout record. */
enum {
    CHECKOUT_VISIT = 1,
    CHECKOUT_CUSTOMER = 2,
    CHECKOUT_EMAIL_READER = 4,
    CHECKOUT_DEVICE = 8,
    CHECKOUT_TOKEN_INVALID = 16,
    CHECKOUT_CUSTOMER_PLACEHOLDER = 32,
    CHECKOUT_DEVICE_PLACEHOLDER = 64,
    CHECKOUT_EMAIL_PLACEHOLDER = 128,
};

/* Flag bits of an identify record. */
enum {
    IDENTIFY_CUSTOMER = 1,
    IDENTIFY_READER = 2,
    IDENTIFY_READER_FROM_TOKEN = 4,
    IDENTIFY_DEVICE = 8,
    IDENTIFY_FLAGS = 15,
};

static void put_identify(struct writer *w, const struct event_identify *id)
{
    put_str(w, id->shop);
    put_u8(w, (uint8_t)((id->has_customer ? IDENTIFY_CUSTOMER : 0) |
                        (id->has_reader ? IDENTIFY_READER : 0) |
                        (id->reader_from_token ? IDENTIFY_READER_FROM_TOKEN : 0) |
                        (id->has_device ? IDENTIFY_DEVICE : 0)));
    put_bytes(w, id->customer, TOKEN_READER_LEN);
    put_bytes(w, id->reader, TOKEN_READER_LEN);
    put_bytes(w, id->device, TOKEN_READER_LEN);
    put_u8(w, (uint8_t)id->placeholders);
}

static void put_checkout(struct writer *w, const struct event_checkout *co)
{
    uint8_t flags = (uint8_t)((co->has_visit ? CHECKOUT_VISIT : 0) |
                              (co->has_customer ? CHECKOUT_CUSTOMER : 0) |
                              (co->has_email_reader ? CHECKOUT_EMAIL_READER : 0) |
                              (co->has_device ? CHECKOUT_DEVICE : 0) |
                              (co->token_invalid ? CHECKOUT_TOKEN_INVALID : 0) |
                              (co->customer_placeholder ? CHECKOUT_CUSTOMER_PLACEHOLDER : 0) |
                              (co->device_placeholder ? CHECKOUT_DEVICE_PLACEHOLDER : 0) |
                              (co->email_placeholder ? CHECKOUT_EMAIL_PLACEHOLDER : 0));

    put_str(w, co->shop);
    put_str(w, co->order_id);
    put_u64(w, (uint64_t)co->revenue_minor);
    put_bytes(w, co->currency, 3);
    put_u8(w, (uint8_t)co->source);
    put_u8(w, flags);
    if (co->has_visit)
        put_touch(w, &co->visit);
    if (co->has_customer)
        put_bytes(w, co->customer, TOKEN_READER_LEN);
    if (co->has_email_reader)
        put_bytes(w, co->email_reader, TOKEN_READER_LEN);
    if (co->has_device)
        put_bytes(w, co->device, TOKEN_READER_LEN);
}

static void put_refund(struct writer *w, const struct event_refund *rf)
{
    put_str(w, rf->shop);
    put_str(w, rf->order_id);
    put_bytes(w, rf->currency, 3);
    put_u8(w, (uint8_t)rf->source);
    put_u8(w, rf->has_amount ? 1 : 0);
    put_u64(w, (uint64_t)rf->amount_minor);
    put_str(w, rf->refund_key);
}

static bool source_ok(enum event_source source)
{
    return source == EVENT_SOURCE_BROWSER || source == EVENT_SOURCE_SERVER;
}

static bool refund_ok(const struct event_refund *rf)
{
    size_t key_len = strnlen(rf->refund_key, sizeof(rf->refund_key));

    return id_ok(rf->shop, TOKEN_ID_MAX) &&
           order_id_ok(rf->order_id, strnlen(rf->order_id, EVENT_ORDER_MAX + 1)) &&
           currency_ok(rf->currency) && (!rf->has_amount || revenue_ok(rf->amount_minor)) &&
           key_len > 0 && key_len < sizeof(rf->refund_key) &&
           order_id_ok(rf->refund_key, key_len) && source_ok(rf->source);
}

/* Checks the fields the encoder would write; the decoder runs the same
 * test on what it read. */
static bool record_ok(const struct event_record *rec)
{
    const struct event *ev = &rec->ev;
    const struct event_checkout *co = &ev->u.checkout;

    if (rec->seq == 0 || rec->touch_seq == 0)
        return false;
    if (!kind_is_touch(ev->kind) &&
        (rec->touch_seq != rec->seq ||
         memcmp(rec->touch_writer, rec->writer, EVENT_WRITER_LEN) != 0))
        return false;

    switch (ev->kind) {
    case EVENT_OPEN:
    case EVENT_CLICK:
        return touch_ok(&ev->u.touch);
    case EVENT_IDENTIFY:
        return id_ok(ev->u.identify.shop, TOKEN_ID_MAX) &&
               ev->u.identify.placeholders <= UINT8_MAX;
    case EVENT_CHECKOUT:
        return id_ok(co->shop, TOKEN_ID_MAX) &&
               order_id_ok(co->order_id, strnlen(co->order_id, EVENT_ORDER_MAX + 1)) &&
               revenue_ok(co->revenue_minor) && currency_ok(co->currency) &&
               (!co->has_visit || touch_ok(&co->visit)) && source_ok(co->source);
    case EVENT_REFUND:
        return refund_ok(&ev->u.refund);
    }
    return false;
}

size_t event_record_encode(const struct event_record *rec, uint8_t *out,
                           size_t outsize)
{
    const struct event *ev = &rec->ev;
    struct writer w = {out, outsize, false};

    if (!record_ok(rec))
        return 0;

    put_u8(&w, EVENT_CODEC_VERSION);
    put_u8(&w, (uint8_t)ev->kind);
    put_bytes(&w, rec->writer, EVENT_WRITER_LEN);
    put_u64(&w, rec->seq);
    put_bytes(&w, rec->touch_writer, EVENT_WRITER_LEN);
    put_u64(&w, rec->touch_seq);
    put_u32(&w, ev->time);
    put_u8(&w, ev->device);
    put_u8(&w, ev->client);

    switch (ev->kind) {
    case EVENT_OPEN:
    case EVENT_CLICK:
        put_touch(&w, &ev->u.touch);
        break;
    case EVENT_IDENTIFY:
        put_identify(&w, &ev->u.identify);
        break;
    case EVENT_CHECKOUT:
        put_checkout(&w, &ev->u.checkout);
        break;
    case EVENT_REFUND:
        put_refund(&w, &ev->u.refund);
        break;
    }

    if (w.overflow)
        return 0;
    return outsize - w.left;
}

/* ---- reading ------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t left;
    bool short_input;
};

static void get_bytes(struct reader *r, void *dst, size_t n)
{
    if (r->short_input || n > r->left) {
        r->short_input = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
}

static uint8_t get_u8(struct reader *r)
{
    uint8_t v;

    get_bytes(r, &v, 1);
    return v;
}

static uint32_t get_u32(struct reader *r)
{
    uint8_t b[4];
    uint32_t v = 0;

    get_bytes(r, b, sizeof(b));
    for (int i = 0; i < 4; i++)
        v = v << 8 | b[i];
    return v;
}

static uint64_t get_u64(struct reader *r)
{
    uint8_t b[8];
    uint64_t v = 0;

    get_bytes(r, b, sizeof(b));
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

/* Reads a length byte and the string into out (max bytes plus a NUL).
 * Returns false when the length exceeds max or the string contains a NUL. */
static bool get_str(struct reader *r, char *out, size_t max)
{
    size_t len = get_u8(r);

    if (len > max)
        return false;
    get_bytes(r, out, len);
    out[len] = '\0';
    return memchr(out, '\0', len) == NULL;
}

static bool get_touch(struct reader *r, struct event_touch *t)
{
    if (!get_str(r, t->campaign, TOKEN_ID_MAX) || !get_str(r, t->message, TOKEN_ID_MAX))
        return false;
    t->link = get_u32(r);
    get_bytes(r, t->reader, TOKEN_READER_LEN);
    get_bytes(r, t->click_id, TOKEN_CLICK_ID_LEN);
    t->time = get_u32(r);
    t->verdict = get_u8(r);
    return true;
}

static bool get_checkout(struct reader *r, struct event_checkout *co)
{
    uint8_t flags;

    if (!get_str(r, co->shop, TOKEN_ID_MAX) || !get_str(r, co->order_id, EVENT_ORDER_MAX))
        return false;
    co->revenue_minor = (int64_t)get_u64(r);
    get_bytes(r, co->currency, 3);
    co->currency[3] = '\0';
    co->source = (enum event_source)get_u8(r);

    flags = get_u8(r);
    co->has_visit = (flags & CHECKOUT_VISIT) != 0;
    co->has_customer = (flags & CHECKOUT_CUSTOMER) != 0;
    co->has_email_reader = (flags & CHECKOUT_EMAIL_READER) != 0;
    co->has_device = (flags & CHECKOUT_DEVICE) != 0;
    co->token_invalid = (flags & CHECKOUT_TOKEN_INVALID) != 0;
    co->customer_placeholder = (flags & CHECKOUT_CUSTOMER_PLACEHOLDER) != 0;
    co->device_placeholder = (flags & CHECKOUT_DEVICE_PLACEHOLDER) != 0;
    co->email_placeholder = (flags & CHECKOUT_EMAIL_PLACEHOLDER) != 0;
    if (co->has_visit && !get_touch(r, &co->visit))
        return false;
    if (co->has_customer)
        get_bytes(r, co->customer, TOKEN_READER_LEN);
    if (co->has_email_reader)
        get_bytes(r, co->email_reader, TOKEN_READER_LEN);
    if (co->has_device)
        get_bytes(r, co->device, TOKEN_READER_LEN);
    return true;
}

static bool get_identify(struct reader *r, struct event_identify *id)
{
    uint8_t flags;

    if (!get_str(r, id->shop, TOKEN_ID_MAX))
        return false;
    flags = get_u8(r);
    if ((flags & ~IDENTIFY_FLAGS) != 0)
        return false;
    id->has_customer = (flags & IDENTIFY_CUSTOMER) != 0;
    id->has_reader = (flags & IDENTIFY_READER) != 0;
    id->reader_from_token = (flags & IDENTIFY_READER_FROM_TOKEN) != 0;
    id->has_device = (flags & IDENTIFY_DEVICE) != 0;
    get_bytes(r, id->customer, TOKEN_READER_LEN);
    get_bytes(r, id->reader, TOKEN_READER_LEN);
    get_bytes(r, id->device, TOKEN_READER_LEN);
    id->placeholders = get_u8(r);
    return true;
}

static bool get_refund(struct reader *r, struct event_refund *rf)
{
    uint8_t has_amount;

    if (!get_str(r, rf->shop, TOKEN_ID_MAX) || !get_str(r, rf->order_id, EVENT_ORDER_MAX))
        return false;
    get_bytes(r, rf->currency, 3);
    rf->currency[3] = '\0';
    rf->source = (enum event_source)get_u8(r);
    has_amount = get_u8(r);
    if (has_amount > 1)
        return false;
    rf->has_amount = has_amount == 1;
    rf->amount_minor = (int64_t)get_u64(r);
    return get_str(r, rf->refund_key, sizeof(rf->refund_key) - 1);
}

enum event_codec_status event_record_decode(const uint8_t *in, size_t len,
                                            struct event_record *rec)
{
    struct reader r = {in, len, false};
    struct event *ev = &rec->ev;
    uint8_t version, kind;
    bool header_ok, fields_ok = true;

    memset(rec, 0, sizeof(*rec));
    if (len == 0)
        return EVENT_CODEC_TRUNCATED;
    version = get_u8(&r);
    if (version != EVENT_CODEC_VERSION)
        return EVENT_CODEC_BAD_VERSION;

    kind = get_u8(&r);
    get_bytes(&r, rec->writer, EVENT_WRITER_LEN);
    rec->seq = get_u64(&r);
    get_bytes(&r, rec->touch_writer, EVENT_WRITER_LEN);
    rec->touch_seq = get_u64(&r);
    ev->time = get_u32(&r);
    ev->device = get_u8(&r);
    ev->client = get_u8(&r);
    header_ok = ev->device < DEVICE_CLASS_COUNT && ev->client < CLIENT_FAMILY_COUNT;

    switch (kind) {
    case EVENT_OPEN:
    case EVENT_CLICK:
        fields_ok = get_touch(&r, &ev->u.touch);
        break;
    case EVENT_IDENTIFY:
        fields_ok = get_identify(&r, &ev->u.identify);
        break;
    case EVENT_CHECKOUT:
        fields_ok = get_checkout(&r, &ev->u.checkout);
        break;
    case EVENT_REFUND:
        fields_ok = get_refund(&r, &ev->u.refund);
        break;
    default:
        return r.short_input ? EVENT_CODEC_TRUNCATED : EVENT_CODEC_MALFORMED;
    }
    ev->kind = (enum event_kind)kind;

    if (r.short_input)
        return EVENT_CODEC_TRUNCATED;
    if (!header_ok || !fields_ok || r.left != 0 || !record_ok(rec))
        return EVENT_CODEC_MALFORMED;
    return EVENT_CODEC_OK;
}

const char *event_codec_status_name(enum event_codec_status status)
{
    switch (status) {
    case EVENT_CODEC_OK:
        return "ok";
    case EVENT_CODEC_TRUNCATED:
        return "truncated";
    case EVENT_CODEC_BAD_VERSION:
        return "bad_version";
    case EVENT_CODEC_MALFORMED:
        return "malformed";
    }
    return "unknown";
}
