/* An open-addressing hash table of 64-bit keys, each with a 64-bit value, for the run-wide
 * uniqueness checks (masking/techniques/hashset.py, class HashTable, owns the memory).
 *
 * The table is two buffers the caller allocates: `slots`, 2 * capacity uint64 (key, value
 * pairs side by side, so a probe touches one cache line), and `used`, capacity bytes (1 where
 * a slot holds a key; every 64-bit key is allowed, 0 included). Capacity is a power of two,
 * 2**bits; the caller keeps the load under one half, so linear probing stays short and always
 * finds a free slot. Keys are already hashes: the slot is the top bits of a multiplicative
 * mix, which spreads keys that differ only in their low bits. Loops run without the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    uint64_t *slots;
    uint8_t *used;
    uint64_t mask;
    int shift;
} table_t;

static inline uint64_t slot_of(const table_t *t, uint64_t key) {
    return (key * 0x9E3779B97F4A7C15ULL) >> t->shift;
}

/* The slot holding `key`, or the free slot where it would go; *found says which. */
static inline uint64_t probe(const table_t *t, uint64_t key, int *found) {
    uint64_t i = slot_of(t, key);
    while (t->used[i]) {
        if (t->slots[2 * i] == key) {
            *found = 1;
            return i;
        }
        i = (i + 1) & t->mask;
    }
    *found = 0;
    return i;
}

static inline void put(table_t *t, uint64_t i, uint64_t key, uint64_t value) {
    t->used[i] = 1;
    t->slots[2 * i] = key;
    t->slots[2 * i + 1] = value;
}

/* Parses (slots, used, bits) into a table and checks the buffers match the capacity. */
static int open_table(Py_buffer *slots, Py_buffer *used, int bits, table_t *t) {
    if (bits < 1 || bits > 40) {
        PyErr_SetString(PyExc_ValueError, "bits must be between 1 and 40");
        return 0;
    }
    Py_ssize_t cap = (Py_ssize_t)1 << bits;
    if (slots->len != cap * 16 || used->len != cap) {
        PyErr_SetString(PyExc_ValueError, "the table's buffers do not match its capacity");
        return 0;
    }
    t->slots = (uint64_t *)slots->buf;
    t->used = (uint8_t *)used->buf;
    t->mask = (uint64_t)cap - 1;
    t->shift = 64 - bits;
    return 1;
}

static int same_length(Py_buffer *keys, Py_buffer *other, Py_ssize_t item, const char *what) {
    if (keys->len % 8 != 0 || other->len != keys->len / 8 * item) {
        PyErr_Format(PyExc_ValueError, "%s must have one item per key", what);
        return 0;
    }
    return 1;
}

/* lookup(slots, used, bits, keys, found_out, values_out): found_out[i] is 1 where keys[i] is in
 * the table, and values_out[i] its value (0 where it is not). */
static PyObject *lookup(PyObject *self, PyObject *args) {
    Py_buffer slots, used, keys, found, values;
    int bits;
    if (!PyArg_ParseTuple(args, "w*w*iy*w*w*", &slots, &used, &bits, &keys, &found, &values)) {
        return NULL;
    }
    PyObject *result = NULL;
    table_t t;
    if (!open_table(&slots, &used, bits, &t) || !same_length(&keys, &found, 1, "found_out") ||
        !same_length(&keys, &values, 8, "values_out")) {
        goto done;
    }
    const uint64_t *k = (const uint64_t *)keys.buf;
    uint8_t *f = (uint8_t *)found.buf;
    uint64_t *v = (uint64_t *)values.buf;
    Py_ssize_t n = keys.len / 8;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int hit;
        uint64_t s = probe(&t, k[i], &hit);
        f[i] = (uint8_t)hit;
        v[i] = hit ? t.slots[2 * s + 1] : 0;
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&used);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&found);
    PyBuffer_Release(&values);
    return result;
}

/* insert(slots, used, bits, keys, values, stop) -> (added, index, prior): adds the keys in
 * order. A key already there keeps its first value; with `stop`, the first such key (in the
 * table before, or earlier among `keys`) ends the call, and its index and the value it has
 * are returned (index -1 when every key was new). `added` counts the keys added. The caller
 * makes room for every key first. */
static PyObject *insert(PyObject *self, PyObject *args) {
    Py_buffer slots, used, keys, values;
    int bits, stop;
    if (!PyArg_ParseTuple(args, "w*w*iy*y*p", &slots, &used, &bits, &keys, &values, &stop)) {
        return NULL;
    }
    PyObject *result = NULL;
    table_t t;
    if (!open_table(&slots, &used, bits, &t) || !same_length(&keys, &values, 8, "values")) {
        goto done;
    }
    const uint64_t *k = (const uint64_t *)keys.buf;
    const uint64_t *v = (const uint64_t *)values.buf;
    Py_ssize_t n = keys.len / 8, added = 0, index = -1;
    uint64_t prior = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int hit;
        uint64_t s = probe(&t, k[i], &hit);
        if (!hit) {
            put(&t, s, k[i], v[i]);
            added++;
        } else if (stop) {
            index = i;
            prior = t.slots[2 * s + 1];
            break;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nnK", added, index, (unsigned long long)prior);
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&used);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&values);
    return result;
}

/* rehash(old_slots, old_used, old_bits, slots, used, bits): moves every key of the old table
 * into an empty larger one. */
static PyObject *rehash(PyObject *self, PyObject *args) {
    Py_buffer os, ou, ns, nu;
    int obits, nbits;
    if (!PyArg_ParseTuple(args, "w*w*iw*w*i", &os, &ou, &obits, &ns, &nu, &nbits)) {
        return NULL;
    }
    PyObject *result = NULL;
    table_t old, t;
    if (!open_table(&os, &ou, obits, &old) || !open_table(&ns, &nu, nbits, &t)) {
        goto done;
    }
    if (nbits <= obits) {
        PyErr_SetString(PyExc_ValueError, "the new table must be larger");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (uint64_t i = 0; i <= old.mask; i++) {
        if (old.used[i]) {
            int hit;
            uint64_t s = probe(&t, old.slots[2 * i], &hit);
            put(&t, s, old.slots[2 * i], old.slots[2 * i + 1]);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&os);
    PyBuffer_Release(&ou);
    PyBuffer_Release(&ns);
    PyBuffer_Release(&nu);
    return result;
}

static PyMethodDef methods[] = {
    {"lookup", lookup, METH_VARARGS, "Whether each key is in the table, and its value."},
    {"insert", insert, METH_VARARGS, "Adds keys in order, optionally up to the first repeat."},
    {"rehash", rehash, METH_VARARGS, "Moves a table's keys into a larger one."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hashset", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hashset(void) { return PyModule_Create(&module); }
