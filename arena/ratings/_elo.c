/* The online Elo loop, compiled: arena.ratings._elo.elo_loop.
 *
 * Online Elo is sequential (each battle moves the ratings the next one starts from), so
 * it cannot be vectorised with numpy; as Python bytecode it costs about 1 s on 1.67 M
 * battles. numba compiles it to 0.02 s, but a process pays 0.5-0.7 s to import numba and
 * load its cached machine code, longer than everything else an `arena leaderboard
 * --method elo` run does. This C version loads in microseconds. It is an optional
 * extension (pyproject.toml): where it could not be built, arena.ratings.elo falls back
 * to the numba kernel, which computes the same loop.
 *
 * It reads numpy arrays through the buffer protocol (no numpy headers at build time),
 * checks their formats and lengths, and refuses an index outside the ratings instead of
 * writing past them, so a wrong call raises instead of corrupting memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static int
get_buffer(PyObject *obj, Py_buffer *view, const char *name, char kind, int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "elo_loop: %s must be a contiguous%s array", name,
                     writable ? " writable" : "");
        return -1;
    }
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') {
        fmt++;
    }
    int ok;
    if (kind == 'i') {
        ok = view->itemsize == 8 && (strcmp(fmt, "q") == 0 || strcmp(fmt, "l") == 0);
    } else {
        ok = view->itemsize == 8 && strcmp(fmt, "d") == 0;
    }
    if (!ok || view->ndim != 1) {
        PyErr_Format(PyExc_TypeError, "elo_loop: %s must be a 1-D %s array", name,
                     kind == 'i' ? "int64" : "float64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
elo_loop(PyObject *self, PyObject *args)
{
    PyObject *objs[5];
    double scale, base;
    if (!PyArg_ParseTuple(args, "OOOOOdd:elo_loop", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &scale, &base)) {
        return NULL;
    }
    static const char *names[5] = {"a", "b", "score", "kw", "ratings"};
    static const char kinds[5] = {'i', 'i', 'f', 'f', 'f'};
    Py_buffer views[5];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 5; got++) {
        if (get_buffer(objs[got], &views[got], names[got], kinds[got], got == 4) < 0) {
            goto done;
        }
    }
    Py_ssize_t n = views[0].shape[0];
    if (views[1].shape[0] != n || views[2].shape[0] != n || views[3].shape[0] != n) {
        PyErr_SetString(PyExc_ValueError, "elo_loop: a, b, score and kw differ in length");
        goto done;
    }
    if (!(scale > 0) || !(base > 1) || !isfinite(scale) || !isfinite(base)) {
        PyErr_SetString(PyExc_ValueError, "elo_loop: scale must be > 0 and base > 1");
        goto done;
    }
    const int64_t *a = (const int64_t *)views[0].buf;
    const int64_t *b = (const int64_t *)views[1].buf;
    const double *score = (const double *)views[2].buf;
    const double *kw = (const double *)views[3].buf;
    double *ratings = (double *)views[4].buf;
    const int64_t models = (int64_t)views[4].shape[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= models || b[i] < 0 || b[i] >= models) {
            PyErr_Format(PyExc_ValueError,
                         "elo_loop: battle %zd names model %lld or %lld; there are %lld",
                         i, (long long)a[i], (long long)b[i], (long long)models);
            goto done;
        }
    }
    const double log_base = log(base);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t ia = a[i], ib = b[i];
        const double ra = ratings[ia], rb = ratings[ib];
        const double ea = 1.0 / (1.0 + exp(log_base * (rb - ra) / scale));
        const double delta = kw[i] * (score[i] - ea);
        ratings[ia] = ra + delta;
        ratings[ib] = rb - delta;
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    for (int j = 0; j < got; j++) {
        PyBuffer_Release(&views[j]);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"elo_loop", elo_loop, METH_VARARGS,
     "elo_loop(a, b, score, kw, ratings, scale, base): replay battles, updating ratings in "
     "place (a, b: int64 model indices; score, kw, ratings: float64)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_elo", "The compiled online Elo loop (see elo.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__elo(void)
{
    return PyModule_Create(&module);
}
