/* National phone digits of each value of an Arrow string array, in one pass over its bytes,
 * without the interpreter lock: the digits of the value (every other byte left out), a trunk
 * or country prefix taken off, and the row kept only when exactly `width` digits remain.
 * masking/techniques/fake.py holds the numpy version it is tested against (and falls back to
 * where this module was not built). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_WIDTH 32

static int64_t load_i64(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* national(data, offsets, valid, width, mode, prefix, mat, ok)
 * data: the array's value bytes; offsets: n + 1 int64 offsets into them; valid: n bytes, 0
 * for a null; mode 0 (trunk): `prefix` (one digit) is dropped from a value of width + 1
 * digits that starts with it; mode 1 (country): a value starting with `prefix` has it
 * replaced by a single '0'. mat (n * width bytes, zeroed) gets the kept rows' digits, ok
 * (n bytes) 1 for those rows, 0 for the others. */
static PyObject *national(PyObject *self, PyObject *args) {
    Py_buffer data, offsets, valid, prefix, mat, ok;
    int width, mode;
    if (!PyArg_ParseTuple(args, "y*y*y*iiy*w*w*", &data, &offsets, &valid, &width, &mode,
                          &prefix, &mat, &ok)) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = offsets.len / 8 - 1;
    if (offsets.len % 8 != 0 || n < 0 || valid.len < n) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold n + 1 int64 values, valid n bytes");
        goto done;
    }
    if (width <= 0 || width > MAX_WIDTH || (mode != 0 && mode != 1) || prefix.len < 1 ||
        prefix.len > 4) {
        PyErr_SetString(PyExc_ValueError, "bad width, mode or prefix");
        goto done;
    }
    if (mat.len < n * width || ok.len < n) {
        PyErr_SetString(PyExc_ValueError, "the output buffers are too small");
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)data.buf;
    const uint8_t *offs = (const uint8_t *)offsets.buf;
    const uint8_t *is_valid = (const uint8_t *)valid.buf;
    const uint8_t *pre = (const uint8_t *)prefix.buf;
    Py_ssize_t plen = prefix.len;
    uint8_t *out = (uint8_t *)mat.buf;
    uint8_t *kept = (uint8_t *)ok.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        kept[i] = 0;
        if (!is_valid[i]) continue;
        int64_t lo = load_i64(offs + 8 * i), hi = load_i64(offs + 8 * (i + 1));
        if (lo < 0 || hi < lo || hi > (int64_t)data.len) {
            bad = 1;
            break;
        }
        uint8_t digits[MAX_WIDTH + 8];
        Py_ssize_t count = 0;
        for (int64_t j = lo; j < hi; j++) {
            uint8_t b = bytes[j];
            if ((uint8_t)(b - '0') < 10) {
                if (count < MAX_WIDTH + 8) digits[count] = b;
                count++;
            }
        }
        int starts = count >= plen && memcmp(digits, pre, (size_t)plen) == 0;
        const uint8_t *from = digits;
        Py_ssize_t length = count;
        uint8_t *row = out + (Py_ssize_t)width * i;
        if (mode == 0) {
            if (starts && count == width + 1) {
                from += plen;
                length -= plen;
            }
            if (length != width) continue;
            memcpy(row, from, (size_t)width);
        } else {
            if (starts) {
                if (count - plen + 1 != width) continue;
                row[0] = '0';
                memcpy(row + 1, digits + plen, (size_t)(width - 1));
            } else {
                if (count != width) continue;
                memcpy(row, digits, (size_t)width);
            }
        }
        kept[i] = 1;
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "offsets out of range");
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&mat);
    PyBuffer_Release(&ok);
    return result;
}

static PyMethodDef methods[] = {
    {"national", national, METH_VARARGS, "National phone digits of each value, in one pass."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_digits", NULL, -1, methods};

PyMODINIT_FUNC PyInit__digits(void) { return PyModule_Create(&module); }
