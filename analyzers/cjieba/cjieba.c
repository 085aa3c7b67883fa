/* jieba's get_DAG and calc in C (analyzers/cjieba): the same dictionary lookups, the same
 * logarithms and additions in the same order, the same tie-breaking, so the same DAG and
 * route, object for object; only the interpreter's work per character and per edge is gone.
 *
 *   get_dag(sentence, freq) -> {k: [ends]}       what Tokenizer.get_DAG returns
 *   calc(sentence, dag, route, freq, logtotal)    what Tokenizer.calc puts in route
 *
 * freq is jieba's prefix dictionary (word or prefix -> count, 0 for a prefix only); logtotal
 * is log(total) as Python computes it. Python's math.log of an int is libm's log of the int as
 * a double, which this calls too. Built at install time (python -m analyzers.cjieba) and
 * checked against jieba's own methods before it is used. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* get_dag(sentence, freq): for each position k, the ends i of the dictionary words that start
 * there (a prefix with a count of 0 continues the scan but is not a word), else [k]. */
static PyObject *get_dag(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "get_dag(sentence: str, freq: dict)");
        return NULL;
    }
    PyObject *sentence = args[0], *freq = args[1];
    Py_ssize_t n = PyUnicode_GET_LENGTH(sentence);
    PyObject *dag = PyDict_New();
    if (!dag) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *ends = PyList_New(0);
        if (!ends) goto error;
        for (Py_ssize_t i = k; i < n; i++) {
            PyObject *frag = PyUnicode_Substring(sentence, k, i + 1);
            if (!frag) { Py_DECREF(ends); goto error; }
            PyObject *count = PyDict_GetItemWithError(freq, frag);     /* borrowed */
            Py_DECREF(frag);
            if (!count) {
                if (PyErr_Occurred()) { Py_DECREF(ends); goto error; }
                break;                                               /* not even a prefix */
            }
            int word = PyObject_IsTrue(count);
            if (word < 0) { Py_DECREF(ends); goto error; }
            if (word) {
                PyObject *end = PyLong_FromSsize_t(i);
                if (!end || PyList_Append(ends, end) < 0) { Py_XDECREF(end); Py_DECREF(ends); goto error; }
                Py_DECREF(end);
            }
        }
        if (PyList_GET_SIZE(ends) == 0) {
            PyObject *only = PyLong_FromSsize_t(k);
            if (!only || PyList_Append(ends, only) < 0) { Py_XDECREF(only); Py_DECREF(ends); goto error; }
            Py_DECREF(only);
        }
        PyObject *key = PyLong_FromSsize_t(k);
        if (!key || PyDict_SetItem(dag, key, ends) < 0) { Py_XDECREF(key); Py_DECREF(ends); goto error; }
        Py_DECREF(key);
        Py_DECREF(ends);
    }
    return dag;
error:
    Py_DECREF(dag);
    return NULL;
}

/* log(freq.get(word) or 1), as Python computes it: a missing or false count is 1. -1 with an
 * error set if the count is not a positive number. */
static int word_log(PyObject *freq, PyObject *word, double *out) {
    PyObject *count = PyDict_GetItemWithError(freq, word);             /* borrowed */
    if (!count) {
        if (PyErr_Occurred()) return -1;
        *out = 0.0;                                                     /* log(1) */
        return 0;
    }
    int truth = PyObject_IsTrue(count);
    if (truth < 0) return -1;
    if (!truth) { *out = 0.0; return 0; }
    double value = PyLong_CheckExact(count) ? PyLong_AsDouble(count) : PyFloat_AsDouble(count);
    if (value == -1.0 && PyErr_Occurred()) return -1;
    if (!(value > 0.0) || !isfinite(value)) {
        PyErr_SetString(PyExc_ValueError, "a dictionary count that is not a positive finite number");
        return -1;
    }
    *out = log(value);
    return 0;
}

/* calc(sentence, dag, route, freq, logtotal): route[N] = (0, 0), then from the end, route[idx] =
 * the (score, end) of dag[idx]'s ends with the largest score, the larger end on a tie: Python's
 * max over the tuples (log(count) - logtotal + route[end + 1][0], end). */
static PyObject *calc(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1]) || !PyDict_Check(args[2])
        || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "calc(sentence: str, dag: dict, route: dict, freq: dict, logtotal: float)");
        return NULL;
    }
    PyObject *sentence = args[0], *dag = args[1], *route = args[2], *freq = args[3];
    double logtotal = PyFloat_AsDouble(args[4]);
    if (logtotal == -1.0 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(sentence);
    double *score = PyMem_Malloc(sizeof(double) * (size_t)(n + 1));
    if (!score) return PyErr_NoMemory();
    PyObject *result = NULL;
    {
        PyObject *key = PyLong_FromSsize_t(n), *last = Py_BuildValue("(ii)", 0, 0);
        int bad = !key || !last || PyDict_SetItem(route, key, last) < 0;
        Py_XDECREF(key); Py_XDECREF(last);
        if (bad) goto done;
    }
    score[n] = 0.0;
    for (Py_ssize_t idx = n - 1; idx >= 0; idx--) {
        PyObject *key = PyLong_FromSsize_t(idx);
        if (!key) goto done;
        PyObject *ends = PyDict_GetItemWithError(dag, key);            /* borrowed */
        if (!ends || !PyList_Check(ends) || PyList_GET_SIZE(ends) == 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "dag[idx] is not a non-empty list");
            Py_DECREF(key);
            goto done;
        }
        double best = 0.0;
        Py_ssize_t best_end = -1;
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(ends); j++) {
            Py_ssize_t end = PyLong_AsSsize_t(PyList_GET_ITEM(ends, j));
            if (end == -1 && PyErr_Occurred()) { Py_DECREF(key); goto done; }
            if (end < idx || end >= n) {
                PyErr_SetString(PyExc_ValueError, "an end outside the sentence");
                Py_DECREF(key);
                goto done;
            }
            PyObject *word = PyUnicode_Substring(sentence, idx, end + 1);
            double lg;
            int bad = !word || word_log(freq, word, &lg) < 0;
            Py_XDECREF(word);
            if (bad) { Py_DECREF(key); goto done; }
            double s = lg - logtotal + score[end + 1];
            if (best_end < 0 || s > best || (s == best && end > best_end)) {
                best = s;
                best_end = end;
            }
        }
        score[idx] = best;
        PyObject *value = Py_BuildValue("(dn)", best, best_end);
        int bad = !value || PyDict_SetItem(route, key, value) < 0;
        Py_XDECREF(value);
        Py_DECREF(key);
        if (bad) goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(score);
    return result;
}

static PyMethodDef methods[] = {
    {"get_dag", (PyCFunction)(void (*)(void))get_dag, METH_FASTCALL,
     "get_dag(sentence, freq) -> {k: [ends]}, as jieba's Tokenizer.get_DAG"},
    {"calc", (PyCFunction)(void (*)(void))calc, METH_FASTCALL,
     "calc(sentence, dag, route, freq, logtotal): route filled as jieba's Tokenizer.calc fills it"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "cjieba", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_cjieba(void) {
    return PyModule_Create(&module_def);
}
