/*
 * stat_counter.h - counters that one event loop thread writes and the
 * /metrics handler of another thread reads.
 *
 * The fields stay plain uint64_t (or bool) and both sides access them
 * with relaxed atomic builtins of GCC and Clang, so the cross-thread read
 * is defined behaviour in C11 and cannot tear. Only the owning thread
 * writes a counter, so an increment is an atomic store of the value it
 * read itself: a plain load and store on x86-64, with no locked
 * read-modify-write on the hot path.
 */
#ifndef TALLY_STAT_COUNTER_H
#define TALLY_STAT_COUNTER_H

/* In the owning thread only. */
#define STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define STAT_SUB(field, n) __atomic_store_n(&(field), (field) - (n), __ATOMIC_RELAXED)
#define STAT_SET(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

/* In any thread. */
#define STAT_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
