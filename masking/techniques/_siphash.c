/* SipHash-2-4 over the values of an Arrow binary array, in C.
 *
 * The same algorithm as masking/techniques/siphash.py (the reference, in numpy), about
 * twenty times faster: one call hashes a whole batch from the array's own buffers, without
 * the interpreter lock. Values are little-endian read, so results do not depend on the
 * machine.
 *
 *   hash_many(data, offsets, k0, k1, out, width=8, rtrim=0) -> None
 *     data:    the values' bytes (any object with the buffer protocol)
 *     offsets: n + 1 little-endian int64 (width 8) or int32 (width 4) offsets into data
 *     rtrim:   1 to leave out trailing spaces, as the canonical form of text does
 *     k0, k1:  the key's two little-endian 64-bit halves
 *     out:     a writable buffer of n uint64 results
 *
 * and, for fixed-width values, the same hash of their canonical text (canonical.py) written
 * here instead of by Arrow, which is most of the cost otherwise:
 *   hash_int64(values, k0, k1, out)            decimal digits: -42
 *   hash_ticks(values, per_day, k0, k1, out)   a date-time with per_day ticks in a day, or
 *                                              days (per_day 1): YYYY-MM-DD[ HH:MM:SS[.f]]
 *     returns False, writing nothing useful, when a date falls outside years 1-9999 (the
 *     caller then takes the generic path).
 *
 * and the keyed permutations of range(size) behind identifier techniques (fpe.py has the
 * construction and the reference implementation):
 *   permute(values, size, a, b, k0, k1, mode, out)   mode 0 forward, 1 backward, 2 shift
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                       \
    do {                                                                               \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                      \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                         \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                         \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                      \
    } while (0)
/* SipHash-2-4's state from the key, one compression of the word m, and the finalization with
 * the last word b (the length in its top byte): shared by the byte-string and one-word forms */
#define SIP_INIT(k0, k1)                                                                 \
    uint64_t v0 = 0x736f6d6570736575ULL ^ (k0), v1 = 0x646f72616e646f6dULL ^ (k1);       \
    uint64_t v2 = 0x6c7967656e657261ULL ^ (k0), v3 = 0x7465646279746573ULL ^ (k1)
#define SIP_COMPRESS(m)                                                                  \
    do {                                                                                 \
        v3 ^= (m);                                                                       \
        SIPROUND;                                                                        \
        SIPROUND;                                                                        \
        v0 ^= (m);                                                                       \
    } while (0)
#define SIP_FINISH(b)                                                                    \
    do {                                                                                 \
        SIP_COMPRESS(b);                                                                 \
        v2 ^= 0xff;                                                                      \
        SIPROUND;                                                                        \
        SIPROUND;                                                                        \
        SIPROUND;                                                                        \
        SIPROUND;                                                                        \
    } while (0)

static inline uint64_t load64(const uint8_t *p) {
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) |
           ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) |
           ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static inline int64_t load_i64(const uint8_t *p) { return (int64_t)load64(p); }

static inline int64_t load_i32(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24));
}

static uint64_t siphash24(const uint8_t *in, size_t len, uint64_t k0, uint64_t k1) {
    SIP_INIT(k0, k1);
    const uint8_t *end = in + (len - (len % 8));
    uint64_t m, b = ((uint64_t)len) << 56;
    for (; in != end; in += 8) {
        m = load64(in);
        SIP_COMPRESS(m);
    }
    switch (len & 7) {
        case 7: b |= ((uint64_t)in[6]) << 48; /* fall through */
        case 6: b |= ((uint64_t)in[5]) << 40; /* fall through */
        case 5: b |= ((uint64_t)in[4]) << 32; /* fall through */
        case 4: b |= ((uint64_t)in[3]) << 24; /* fall through */
        case 3: b |= ((uint64_t)in[2]) << 16; /* fall through */
        case 2: b |= ((uint64_t)in[1]) << 8;  /* fall through */
        case 1: b |= ((uint64_t)in[0]); break;
        case 0: break;
    }
    SIP_FINISH(b);
    return v0 ^ v1 ^ v2 ^ v3;
}

static PyObject *hash_many(PyObject *self, PyObject *args) {
    Py_buffer data, offsets, out;
    unsigned long long k0, k1;
    int width = 8, rtrim = 0;
    if (!PyArg_ParseTuple(args, "y*y*KKw*|ii", &data, &offsets, &k0, &k1, &out, &width,
                          &rtrim)) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = width > 0 ? offsets.len / width - 1 : -1;
    if ((width != 4 && width != 8) || offsets.len % width != 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold n + 1 int32 or int64 values");
        goto done;
    }
    if (out.len < n * 8) {
        PyErr_SetString(PyExc_ValueError, "the output buffer is too small");
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)data.buf;
    const uint8_t *offs = (const uint8_t *)offsets.buf;
    uint8_t *dst = (uint8_t *)out.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t lo, hi;
        if (width == 8) {
            lo = load_i64(offs + 8 * i);
            hi = load_i64(offs + 8 * (i + 1));
        } else {
            lo = load_i32(offs + 4 * i);
            hi = load_i32(offs + 4 * (i + 1));
        }
        if (lo < 0 || hi < lo || hi > (int64_t)data.len) {
            bad = 1;
            break;
        }
        if (rtrim) {  /* the canonical text drops trailing spaces (CHAR padding) */
            while (hi > lo && bytes[hi - 1] == ' ') hi--;
        }
        uint64_t h = siphash24(bytes + lo, (size_t)(hi - lo), (uint64_t)k0, (uint64_t)k1);
        for (int j = 0; j < 8; j++) {
            dst[8 * i + j] = (uint8_t)(h >> (8 * j));
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "an offset lies outside the data");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&out);
    return result;
}

static int put_int(char *buf, int64_t v) {
    char tmp[24];
    int n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u);
    if (v < 0) buf[len++] = '-';
    while (n) buf[len++] = tmp[--n];
    return len;
}

static void put_digits(char *buf, int64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        buf[i] = (char)('0' + (v % 10));
        v /= 10;
    }
}

/* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
static void civil(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int put_ticks(char *buf, int64_t ticks, int64_t per_day) {
    int64_t days = ticks / per_day, tod = ticks % per_day;
    if (tod < 0) {
        tod += per_day;
        days -= 1;
    }
    int64_t y, m, d;
    civil(days, &y, &m, &d);
    if (y < 1 || y > 9999) return -1;
    put_digits(buf, y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    if (tod == 0) return 10;
    int64_t ns = tod * (86400000000000LL / per_day);
    int64_t secs = ns / 1000000000LL, frac = ns % 1000000000LL;
    buf[10] = ' ';
    put_digits(buf + 11, secs / 3600, 2);
    buf[13] = ':';
    put_digits(buf + 14, secs / 60 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, secs % 60, 2);
    if (frac == 0) return 19;
    buf[19] = '.';
    put_digits(buf + 20, frac, 9);
    int len = 29;
    while (buf[len - 1] == '0') len--;
    return len;
}

static void store(uint8_t *dst, Py_ssize_t i, uint64_t h) {
    for (int j = 0; j < 8; j++) dst[8 * i + j] = (uint8_t)(h >> (8 * j));
}

static PyObject *hash_fixed(PyObject *args, int ticks) {
    Py_buffer values, out;
    unsigned long long k0, k1;
    long long per_day = 1;
    int ok;
    if (ticks) {
        ok = PyArg_ParseTuple(args, "y*LKKw*", &values, &per_day, &k0, &k1, &out);
    } else {
        ok = PyArg_ParseTuple(args, "y*KKw*", &values, &k0, &k1, &out);
    }
    if (!ok) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 8;
    if (values.len % 8 != 0 || out.len < n * 8 || per_day < 1 ||
        86400000000000LL % per_day != 0) {
        PyErr_SetString(PyExc_ValueError, "int64 values, a large enough output, a day's ticks");
        goto done;
    }
    const uint8_t *src = (const uint8_t *)values.buf;
    uint8_t *dst = (uint8_t *)out.buf;
    int in_range = 1;
    Py_BEGIN_ALLOW_THREADS
    char text[40];
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t v = load_i64(src + 8 * i);
        int len = ticks ? put_ticks(text, v, per_day) : put_int(text, v);
        if (len < 0) {
            in_range = 0;
            break;
        }
        store(dst, i, siphash24((const uint8_t *)text, (size_t)len, k0, k1));
    }
    Py_END_ALLOW_THREADS
    result = in_range ? Py_True : Py_False;
    Py_INCREF(result);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *hash_int64(PyObject *self, PyObject *args) { return hash_fixed(args, 0); }

static PyObject *hash_ticks(PyObject *self, PyObject *args) { return hash_fixed(args, 1); }

/* Feistel network over range(a) x range(b), FF3 style: 8 rounds whose function is
 * SipHash-2-4 of one word, (half << 8) | round, scaled onto the other half's range. */
#define FPE_ROUNDS 8
#define LANES 8 /* values taken through the rounds side by side: their hashes overlap */

/* SipHash-2-4 of one little-endian 8-byte word: siphash24() of those 8 bytes. */
static inline uint64_t sip_word(uint64_t m, uint64_t k0, uint64_t k1) {
    SIP_INIT(k0, k1);
    SIP_COMPRESS(m);
    SIP_FINISH(8ULL << 56);
    return v0 ^ v1 ^ v2 ^ v3;
}

static inline uint64_t fpe_f(uint64_t half, int rnd, uint64_t modulus, uint64_t k0,
                             uint64_t k1) {
    return ((sip_word((half << 8) | (uint64_t)rnd, k0, k1) >> 32) * modulus) >> 32;
}

/* One pass of the network over `n` values at once (each below a * b), in place. Called with
 * n = LANES for the bulk, so the lanes' hashes overlap in the pipeline, and 1 for the rest. */
static inline __attribute__((always_inline)) void fpe_pass(uint64_t *x, const int n,
                                                           uint64_t a, uint64_t b, uint64_t k0,
                                                           uint64_t k1, int backward) {
    uint64_t left[LANES], right[LANES];
    for (int j = 0; j < n; j++) {
        left[j] = x[j] / b;
        right[j] = x[j] % b;
    }
    if (backward) {
        for (int r = FPE_ROUNDS - 1; r >= 0; r--) {
            uint64_t m = (r % 2 == 0) ? a : b;
            for (int j = 0; j < n; j++) {
                /* undo round r: right was (old_left + F(old_right)) mod m, left was old_right */
                uint64_t old_left = right[j] + m - fpe_f(left[j], r, m, k0, k1);
                if (old_left >= m) old_left -= m;
                right[j] = left[j];
                left[j] = old_left;
            }
        }
    } else {
        for (int r = 0; r < FPE_ROUNDS; r++) {
            uint64_t m = (r % 2 == 0) ? a : b;
            for (int j = 0; j < n; j++) {
                uint64_t next = left[j] + fpe_f(right[j], r, m, k0, k1);
                if (next >= m) next -= m;
                left[j] = right[j];
                right[j] = next;
            }
        }
    }
    for (int j = 0; j < n; j++) x[j] = left[j] * b + right[j];
}

/* The permutation of range(size) on `n` values (n = LANES or 1): one pass through the
 * network, then cycle-walking, one value at a time, for those it mapped to size or more
 * (rare: a * b barely exceeds size). */
static inline __attribute__((always_inline)) void fpe_walk(uint64_t *x, const int n,
                                                           uint64_t size, uint64_t a,
                                                           uint64_t b, uint64_t k0,
                                                           uint64_t k1, int backward) {
    fpe_pass(x, n, a, b, k0, k1, backward);
    for (int j = 0; j < n; j++) {
        while (x[j] >= size) fpe_pass(x + j, 1, a, b, k0, k1, backward);
    }
}

/* The permutation (mode 0 forward, 1 backward) or its fixed-point-free shift (mode 2) of `n`
 * values in place. */
static inline __attribute__((always_inline)) void fpe_apply(uint64_t *x, const int n,
                                                            uint64_t size, uint64_t a,
                                                            uint64_t b, uint64_t k0,
                                                            uint64_t k1, int mode) {
    if (mode != 2) {
        fpe_walk(x, n, size, a, b, k0, k1, mode);
        return;
    }
    fpe_walk(x, n, size, a, b, k0, k1, 0);
    for (int j = 0; j < n; j++) x[j] = (x[j] + 1 == size) ? 0 : x[j] + 1;
    fpe_walk(x, n, size, a, b, k0, k1, 1);
}

/* Built twice on x86-64 Linux, the loader picking the AVX2 build where the CPU has it: the
 * compiler turns the lanes' hashing into vector instructions there (a third faster). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES static void permute_all(
    const uint8_t *src, uint8_t *dst, Py_ssize_t n, uint64_t size, uint64_t a, uint64_t b,
    uint64_t k0, uint64_t k1, int mode) {
    uint64_t x[LANES];
    Py_ssize_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int j = 0; j < LANES; j++) x[j] = load64(src + 8 * (i + j));
        fpe_apply(x, LANES, size, a, b, k0, k1, mode);
        for (int j = 0; j < LANES; j++) store(dst, i + j, x[j]);
    }
    for (; i < n; i++) {
        x[0] = load64(src + 8 * i);
        fpe_apply(x, 1, size, a, b, k0, k1, mode);
        store(dst, i, x[0]);
    }
}

static PyObject *permute(PyObject *self, PyObject *args) {
    Py_buffer values, out;
    unsigned long long size, a, b, k0, k1;
    int mode;
    if (!PyArg_ParseTuple(args, "y*KKKKKiw*", &values, &size, &a, &b, &k0, &k1, &mode, &out)) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 8;
    if (values.len % 8 != 0 || out.len < n * 8 || size < 1 || a < 2 || b < 2 ||
        a >= (1ULL << 31) || b >= (1ULL << 31) || a * b < size || mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "bad permutation arguments");
        goto done;
    }
    const uint8_t *src = (const uint8_t *)values.buf;
    uint8_t *dst = (uint8_t *)out.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (load64(src + 8 * i) >= size) {
            bad = 1;
            break;
        }
    }
    if (!bad) permute_all(src, dst, n, size, a, b, k0, k1, mode);
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "a value lies outside the permutation's range");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"hash_many", hash_many, METH_VARARGS, "SipHash-2-4 of each value of a binary array."},
    {"hash_int64", hash_int64, METH_VARARGS, "SipHash-2-4 of each int64's decimal text."},
    {"hash_ticks", hash_ticks, METH_VARARGS, "SipHash-2-4 of each date or date-time's text."},
    {"permute", permute, METH_VARARGS, "A keyed permutation of range(size), element-wise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_siphash", NULL, -1, methods};

PyMODINIT_FUNC PyInit__siphash(void) { return PyModule_Create(&module); }
