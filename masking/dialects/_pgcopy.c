/* PostgreSQL binary COPY rows (COPY ... TO STDOUT (FORMAT binary)) parsed into Arrow column
 * buffers, without the interpreter lock.
 *
 * read() takes the COPY from libpq: the caller (masking/dialects/postgresql_copy.py) has
 * started it on a psycopg connection and passes that connection's PGconn and the addresses of
 * PQgetCopyData and PQfreemem from the same libpq, so no libpq is linked here. It stops after
 * the trailer, which leaves the end of the COPY (its command status, or an error) to psycopg.
 * decode() parses messages given as bytes, the same way (tests).
 *
 * Column kinds: 's' text (any type sent as text), 'h' int2, 'i' int4, 'q' int8, 'd' float8,
 * '?' bool, 'D' date, 'T' timestamp. Output per column: (validity bitmap or None, data, offsets
 * or None, null count) in Arrow's layouts: little-endian values, dates as days and timestamps
 * as microseconds since 1970 (an infinite one as the type's extreme value, which no caller
 * accepts), booleans bit-packed, text as int32 offsets and UTF-8 bytes as the server sent them.
 *
 * Status: 0 read through the trailer; 1 the COPY ended before it (an error: the result tells);
 * 2 libpq reported a failure; 3 a row did not have the expected shape (field count, a field's
 * width, a row split across messages, more than 2 GiB of text): the rest of the COPY is read
 * through the trailer and discarded; 4 out of memory (likewise). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*getcopydata_fn)(void *conn, char **buffer, int async);
typedef void (*freemem_fn)(void *ptr);

enum { ST_OK = 0, ST_ENDED = 1, ST_FAILED = 2, ST_SHAPE = 3, ST_MEMORY = 4 };

static const char SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US INT64_C(946684800000000)

typedef struct {
    char kind;
    int width;          /* bytes on the wire; 0: any (text) */
    uint8_t *valid;     /* bit per row, 1 = not NULL */
    uint8_t *data;      /* values; bits for booleans */
    int32_t *offsets;   /* text: rows + 1 */
    size_t data_len, data_cap;
    int64_t nulls;
} Column;

typedef struct {
    Column *cols;
    int ncols;
    int64_t rows, cap; /* rows decoded; rows the buffers hold */
    int header;        /* header seen */
    int status;        /* ST_OK while well formed */
    int done;          /* trailer seen */
} Reader;

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) {
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static int kind_width(char kind) {
    switch (kind) {
    case 's': return 0;
    case 'h': return 2;
    case 'i': case 'D': return 4;
    case 'q': case 'd': case 'T': return 8;
    case '?': return 1;
    default: return -1;
    }
}

/* Bytes of the value buffer for `rows` rows. */
static size_t value_bytes(const Column *c, int64_t rows) {
    if (c->kind == '?') return (size_t)((rows + 7) / 8);
    if (c->kind == 's') return 0;
    return (size_t)rows * (size_t)c->width;
}

static int grow_rows(Reader *r) {
    int64_t cap = r->cap ? r->cap * 2 : 1024;
    for (int i = 0; i < r->ncols; i++) {
        Column *c = &r->cols[i];
        size_t old_bits = (size_t)((r->cap + 7) / 8), bits = (size_t)((cap + 7) / 8);
        uint8_t *valid = realloc(c->valid, bits);
        if (!valid) return -1;
        memset(valid + old_bits, 0, bits - old_bits);
        c->valid = valid;
        if (c->kind == 's') {
            int32_t *off = realloc(c->offsets, (size_t)(cap + 1) * sizeof(int32_t));
            if (!off) return -1;
            if (!r->cap) off[0] = 0;
            c->offsets = off;
        } else {
            size_t old = value_bytes(c, r->cap), want = value_bytes(c, cap);
            uint8_t *data = realloc(c->data, want);
            if (!data) return -1;
            memset(data + old, 0, want - old);
            c->data = data;
            c->data_cap = want;
        }
    }
    r->cap = cap;
    return 0;
}

static int append_text(Column *c, const uint8_t *p, size_t n) {
    if (c->data_len + n > (size_t)INT32_MAX) return ST_SHAPE; /* int32 offsets */
    if (c->data_len + n > c->data_cap) {
        size_t cap = c->data_cap ? c->data_cap : 65536;
        while (cap < c->data_len + n) cap *= 2;
        uint8_t *data = realloc(c->data, cap);
        if (!data) return ST_MEMORY;
        c->data = data;
        c->data_cap = cap;
    }
    if (n) memcpy(c->data + c->data_len, p, n);
    c->data_len += n;
    return ST_OK;
}

/* One field of row `row`: `p` its value, `n` its length (-1: NULL). */
static int put_field(Column *c, int64_t row, const uint8_t *p, int32_t n) {
    if (n < 0) {
        c->nulls++;
        if (c->kind == 's') c->offsets[row + 1] = (int32_t)c->data_len;
        return ST_OK;
    }
    if (c->width && n != c->width) return ST_SHAPE;
    c->valid[row >> 3] |= (uint8_t)(1u << (row & 7));
    switch (c->kind) {
    case 's': {
        int st = append_text(c, p, (size_t)n);
        if (st != ST_OK) return st;
        c->offsets[row + 1] = (int32_t)c->data_len;
        return ST_OK;
    }
    case 'h': { int16_t v = (int16_t)be16(p); memcpy(c->data + row * 2, &v, 2); return ST_OK; }
    case 'i': { int32_t v = (int32_t)be32(p); memcpy(c->data + row * 4, &v, 4); return ST_OK; }
    case 'q': case 'd': { uint64_t v = be64(p); memcpy(c->data + row * 8, &v, 8); return ST_OK; }
    case '?':
        if (*p) c->data[row >> 3] |= (uint8_t)(1u << (row & 7));
        return ST_OK;
    case 'D': {
        int32_t days = (int32_t)be32(p);
        int32_t v = days > INT32_MAX - PG_EPOCH_DAYS ? INT32_MAX : days + PG_EPOCH_DAYS;
        memcpy(c->data + row * 4, &v, 4);
        return ST_OK;
    }
    case 'T': {
        int64_t us = (int64_t)be64(p);
        int64_t v = us > INT64_MAX - PG_EPOCH_US ? INT64_MAX : us + PG_EPOCH_US;
        memcpy(c->data + row * 8, &v, 8);
        return ST_OK;
    }
    }
    return ST_SHAPE;
}

/* One CopyData message: the header (first message), whole rows, or the trailer. A row always
 * fits in one message (the server sends one per message); one that does not is a shape error. */
static void decode_message(Reader *r, const uint8_t *p, size_t len) {
    size_t pos = 0;
    if (!r->header) {
        if (len < 19 || memcmp(p, SIGNATURE, 11) != 0) { r->status = ST_SHAPE; return; }
        uint32_t ext = be32(p + 15);
        if (ext > len - 19) { r->status = ST_SHAPE; return; }
        pos = 19 + ext;
        r->header = 1;
    }
    while (pos < len && r->status == ST_OK && !r->done) {
        if (len - pos < 2) { r->status = ST_SHAPE; return; }
        int16_t nf = (int16_t)be16(p + pos);
        pos += 2;
        if (nf == -1) { r->done = 1; return; }
        if (nf != r->ncols) { r->status = ST_SHAPE; return; }
        if (r->rows == r->cap && grow_rows(r) < 0) { r->status = ST_MEMORY; return; }
        for (int i = 0; i < r->ncols; i++) {
            if (len - pos < 4) { r->status = ST_SHAPE; return; }
            int32_t n = (int32_t)be32(p + pos);
            pos += 4;
            if (n >= 0 && (size_t)n > len - pos) { r->status = ST_SHAPE; return; }
            int st = put_field(&r->cols[i], r->rows, p + pos, n);
            if (st != ST_OK) { r->status = st; return; }
            if (n > 0) pos += (size_t)n;
        }
        r->rows++;
    }
}

static void reader_free(Reader *r) {
    if (!r->cols) return;
    for (int i = 0; i < r->ncols; i++) {
        free(r->cols[i].valid);
        free(r->cols[i].data);
        free(r->cols[i].offsets);
    }
    free(r->cols);
    r->cols = NULL;
}

static int reader_init(Reader *r, const char *kinds, Py_ssize_t n) {
    memset(r, 0, sizeof(*r));
    if (n <= 0 || n > 1600) {
        PyErr_SetString(PyExc_ValueError, "between 1 and 1600 columns");
        return -1;
    }
    r->cols = calloc((size_t)n, sizeof(Column));
    if (!r->cols) { PyErr_NoMemory(); return -1; }
    r->ncols = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        int w = kind_width(kinds[i]);
        if (w < 0) {
            reader_free(r);
            PyErr_Format(PyExc_ValueError, "unknown column kind %c", kinds[i]);
            return -1;
        }
        r->cols[i].kind = kinds[i];
        r->cols[i].width = w;
    }
    if (grow_rows(r) < 0) { reader_free(r); PyErr_NoMemory(); return -1; }
    return 0;
}

static PyObject *column_result(const Reader *r, const Column *c) {
    PyObject *valid = NULL, *data = NULL, *offsets = NULL, *out = NULL;
    if (c->nulls) {
        valid = PyBytes_FromStringAndSize((const char *)c->valid, (r->rows + 7) / 8);
    } else {
        valid = Py_NewRef(Py_None);
    }
    size_t nbytes = c->kind == 's' ? c->data_len : value_bytes(c, r->rows);
    data = PyBytes_FromStringAndSize(nbytes ? (const char *)c->data : "", (Py_ssize_t)nbytes);
    if (c->kind == 's') {
        offsets = PyBytes_FromStringAndSize(
            (const char *)c->offsets, (Py_ssize_t)((r->rows + 1) * sizeof(int32_t)));
    } else {
        offsets = Py_NewRef(Py_None);
    }
    if (valid && data && offsets) out = Py_BuildValue("(OOOL)", valid, data, offsets, (long long)c->nulls);
    Py_XDECREF(valid);
    Py_XDECREF(data);
    Py_XDECREF(offsets);
    return out;
}

static PyObject *reader_result(Reader *r) {
    PyObject *cols = PyList_New(r->ncols);
    if (!cols) return NULL;
    int ok = r->status == ST_OK && r->done;
    for (int i = 0; i < r->ncols; i++) {
        PyObject *col = ok ? column_result(r, &r->cols[i]) : Py_NewRef(Py_None);
        if (!col) { Py_DECREF(cols); return NULL; }
        PyList_SET_ITEM(cols, i, col);
    }
    int status = r->status != ST_OK ? r->status : (r->done ? ST_OK : ST_ENDED);
    PyObject *out = Py_BuildValue("(iLO)", status, (long long)r->rows, cols);
    Py_DECREF(cols);
    return out;
}

/* read(pgconn, PQgetCopyData, PQfreemem, kinds) -> (status, rows, columns) */
static PyObject *py_read(PyObject *Py_UNUSED(self), PyObject *args) {
    unsigned long long conn_addr, get_addr, free_addr;
    const char *kinds;
    Py_ssize_t nk;
    if (!PyArg_ParseTuple(args, "KKKy#", &conn_addr, &get_addr, &free_addr, &kinds, &nk))
        return NULL;
    if (!conn_addr || !get_addr || !free_addr) {
        PyErr_SetString(PyExc_ValueError, "a null connection or function");
        return NULL;
    }
    void *conn = (void *)(uintptr_t)conn_addr;
    getcopydata_fn get_copy_data = (getcopydata_fn)(uintptr_t)get_addr;
    freemem_fn freemem = (freemem_fn)(uintptr_t)free_addr;
    Reader r;
    if (reader_init(&r, kinds, nk) < 0) return NULL;
    int failed = 0, ended = 0;
    Py_BEGIN_ALLOW_THREADS
    while (!r.done) {
        char *buf = NULL;
        int n = get_copy_data(conn, &buf, 0);
        if (n == -1) { ended = 1; break; }
        if (n < 0) { failed = 1; break; }
        if (r.status == ST_OK) decode_message(&r, (const uint8_t *)buf, (size_t)n);
        else if (n == 2 && be16((const uint8_t *)buf) == 0xFFFF) r.done = 1; /* skipping */
        freemem(buf);
    }
    Py_END_ALLOW_THREADS
    if (failed) r.status = ST_FAILED;
    else if (ended) r.status = ST_ENDED; /* its end is consumed: psycopg cannot finish it */
    PyObject *out = reader_result(&r);
    reader_free(&r);
    return out;
}

/* decode(messages, kinds) -> (status, rows, columns): the same parse over given messages. */
static PyObject *py_decode(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *messages;
    const char *kinds;
    Py_ssize_t nk;
    if (!PyArg_ParseTuple(args, "Oy#", &messages, &kinds, &nk)) return NULL;
    PyObject *seq = PySequence_Fast(messages, "messages must be a sequence of bytes");
    if (!seq) return NULL;
    Reader r;
    if (reader_init(&r, kinds, nk) < 0) { Py_DECREF(seq); return NULL; }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count && !r.done; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        char *buf;
        Py_ssize_t n;
        if (PyBytes_AsStringAndSize(item, &buf, &n) < 0) {
            reader_free(&r);
            Py_DECREF(seq);
            return NULL;
        }
        if (r.status == ST_OK) decode_message(&r, (const uint8_t *)buf, (size_t)n);
        else if (n == 2 && be16((const uint8_t *)buf) == 0xFFFF) r.done = 1;
    }
    Py_DECREF(seq);
    if (!r.done) r.status = ST_ENDED; /* as read() does when libpq reports the end */
    PyObject *out = reader_result(&r);
    reader_free(&r);
    return out;
}

static PyMethodDef methods[] = {
    {"read", py_read, METH_VARARGS, "Parse a binary COPY from libpq through its trailer."},
    {"decode", py_decode, METH_VARARGS, "Parse binary COPY messages given as bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pgcopy", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pgcopy(void) { return PyModule_Create(&module); }
