/* PostgreSQL binary COPY rows from column buffers, in C.
 *
 * The same output as the numpy reference in masking/dialects/pgbinary.py (`rows_reference`),
 * in one pass over the columns' own buffers and without the interpreter lock while the rows
 * are written: per row a big-endian int16 field count, then per field a big-endian int32
 * length (-1 for NULL) and that many bytes.
 *
 *   rows(n, fields) -> bytes
 *     fields: a sequence of (data, offsets, width, valid, prefix), one per column:
 *       data:    the values' bytes (any object with the buffer protocol)
 *       offsets: None when every value is `width` bytes (value i is data[i*width:(i+1)*width]);
 *                else n + 1 little-endian int64 offsets into data
 *       valid:   None (no NULL), or n bytes, 0 where the value is NULL
 *       prefix:  bytes written before each non-NULL value (jsonb's version byte), or b""
 *
 * Raises ValueError when a buffer is shorter than n values need, an offset lies outside the
 * data, or a field would be longer than PostgreSQL's 1 GB.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELD 0x3FFFFFFF

typedef struct {
    Py_buffer data, offsets, valid, prefix;
    int has_offsets, has_valid;
    Py_ssize_t width;
} Field;

static inline int64_t load_i64(const uint8_t *p) {
    uint64_t v = 0;
    for (int j = 7; j >= 0; j--) v = (v << 8) | p[j];
    return (int64_t)v;
}

static inline void put_be32(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
}

static void release(Field *f) {
    PyBuffer_Release(&f->data);
    if (f->has_offsets) PyBuffer_Release(&f->offsets);
    if (f->has_valid) PyBuffer_Release(&f->valid);
    PyBuffer_Release(&f->prefix);
}

static int take(PyObject *item, Py_ssize_t n, Field *f) {
    PyObject *data, *offsets, *valid, *prefix;
    Py_ssize_t width;
    memset(f, 0, sizeof(*f));
    if (!PyArg_ParseTuple(item, "OOnOO", &data, &offsets, &width, &valid, &prefix)) return -1;
    if (PyObject_GetBuffer(data, &f->data, PyBUF_SIMPLE) < 0) return -1;
    if (PyObject_GetBuffer(prefix, &f->prefix, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&f->data);
        return -1;
    }
    f->width = width;
    if (offsets != Py_None) {
        if (PyObject_GetBuffer(offsets, &f->offsets, PyBUF_SIMPLE) < 0) goto fail;
        f->has_offsets = 1;
        if (f->offsets.len < 8 * (n + 1)) {
            PyErr_SetString(PyExc_ValueError, "offsets must hold n + 1 int64 values");
            goto fail;
        }
    } else if (width < 0 || width > MAX_FIELD || f->data.len < width * n) {
        PyErr_SetString(PyExc_ValueError, "the data is shorter than n values of its width");
        goto fail;
    }
    if (valid != Py_None) {
        if (PyObject_GetBuffer(valid, &f->valid, PyBUF_SIMPLE) < 0) goto fail;
        f->has_valid = 1;
        if (f->valid.len < n) {
            PyErr_SetString(PyExc_ValueError, "valid must hold n flags");
            goto fail;
        }
    }
    return 0;
fail:
    release(f);
    return -1;
}

/* Bytes of one column's fields over all rows; -1 (error set) when an offset is wrong. */
static Py_ssize_t column_size(const Field *f, Py_ssize_t n) {
    const uint8_t *ok = f->has_valid ? (const uint8_t *)f->valid.buf : NULL;
    const uint8_t *offs = (const uint8_t *)f->offsets.buf;
    Py_ssize_t total = 4 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ok && !ok[i]) continue;
        int64_t len = f->width;
        if (f->has_offsets) {
            int64_t lo = load_i64(offs + 8 * i), hi = load_i64(offs + 8 * (i + 1));
            if (lo < 0 || hi < lo || hi > (int64_t)f->data.len) {
                PyErr_SetString(PyExc_ValueError, "an offset lies outside the data");
                return -1;
            }
            len = hi - lo;
        }
        len += f->prefix.len;
        if (len > MAX_FIELD) {
            PyErr_SetString(PyExc_ValueError, "a value is larger than 1 GB");
            return -1;
        }
        total += (Py_ssize_t)len;
    }
    return total;
}

static PyObject *rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "nO", &n, &seq)) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must not be negative");
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "fields must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t ncols = PySequence_Fast_GET_SIZE(fast);
    if (ncols > 0x7FFF) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "too many columns");
        return NULL;
    }
    Field *fields = PyMem_Calloc(ncols ? ncols : 1, sizeof(Field));
    PyObject *result = NULL;
    Py_ssize_t taken = 0, size = 2 * n;
    if (!fields) {
        PyErr_NoMemory();
        goto done;
    }
    for (; taken < ncols; taken++) {
        if (take(PySequence_Fast_GET_ITEM(fast, taken), n, &fields[taken]) < 0) goto done;
    }
    for (Py_ssize_t c = 0; c < ncols; c++) {
        Py_ssize_t s = column_size(&fields[c], n);
        if (s < 0) goto done;
        size += s;
    }
    result = PyBytes_FromStringAndSize(NULL, size);
    if (!result) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        *out++ = (uint8_t)(ncols >> 8);
        *out++ = (uint8_t)ncols;
        for (Py_ssize_t c = 0; c < ncols; c++) {
            const Field *f = &fields[c];
            if (f->has_valid && !((const uint8_t *)f->valid.buf)[i]) {
                put_be32(out, -1);
                out += 4;
                continue;
            }
            const uint8_t *src;
            Py_ssize_t len;
            if (f->has_offsets) {
                const uint8_t *offs = (const uint8_t *)f->offsets.buf;
                int64_t lo = load_i64(offs + 8 * i);
                src = (const uint8_t *)f->data.buf + lo;
                len = (Py_ssize_t)(load_i64(offs + 8 * (i + 1)) - lo);
            } else {
                src = (const uint8_t *)f->data.buf + f->width * i;
                len = f->width;
            }
            put_be32(out, (int32_t)(len + f->prefix.len));
            out += 4;
            if (f->prefix.len) {
                memcpy(out, f->prefix.buf, (size_t)f->prefix.len);
                out += f->prefix.len;
            }
            memcpy(out, src, (size_t)len);
            out += len;
        }
    }
    Py_END_ALLOW_THREADS
done:
    for (Py_ssize_t c = 0; c < taken; c++) release(&fields[c]);
    PyMem_Free(fields);
    Py_DECREF(fast);
    return result;
}

static PyMethodDef methods[] = {
    {"rows", rows, METH_VARARGS, "PostgreSQL binary COPY rows from column buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pgrows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pgrows(void) { return PyModule_Create(&module); }
