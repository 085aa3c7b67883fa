/* polysearch's compiled parts of Whoosh's segment writer and posting reader, one CPython
 * extension module:
 *   term_blocks.c   a term's posting blocks and term info, as whoosh3 writes them
 *   posting_pool.c  the pool of a segment's postings: grouped by term, spilled, merged
 *   block_read.c    a posting block's docnums and weights, and some values, without
 *                   unpickling the rest (indexer/postings.py)
 *   phrase.c        which documents have a phrase's words at consecutive positions
 *                   (indexer/arrayscore.py)
 *   range_counts.c  how many matched documents carry each entity (indexer/facets.py)
 * Built at install time (python -m indexer.csegment), checked against the Python code. */
#include "term_blocks.c"
#include "posting_pool.c"
#include "block_read.c"
#include "phrase.c"
#include "range_counts.c"

static PyMethodDef methods[] = {
    {"encode_term", (PyCFunction)(void (*)(void))encode_term, METH_FASTCALL,
     "encode_term(postings, lengths, fixed_size, limit, level, offset) -> (blob, terminfo) | None | NotImplemented"},
    {"set_length_table", set_length_table, METH_O, "whoosh.util.numeric._length_byte_cache, once"},
    {"decode_block", (PyCFunction)(void (*)(void))decode_block, METH_FASTCALL,
     "decode_block(data, count, wanted) -> (docnums, weights, values) | None"},
    {"consecutive_docs", consecutive_docs, METH_O,
     "consecutive_docs([values per word]) -> bytearray (1 where the words are consecutive) | None"},
    {"count_ranges", (PyCFunction)(void (*)(void))count_ranges, METH_FASTCALL,
     "count_ranges(starts, values, docs, out): out[v] = the pairs of docs with value v"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "csegment", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_csegment(void) {
    /* the Python term writer's compressor (ISA-L when installed), so the blocks are its bytes */
    PyObject *deflate = PyImport_ImportModule("indexer.deflate");
    if (!deflate) return NULL;
    zlib_compress = PyObject_GetAttrString(deflate, "compress");
    Py_DECREF(deflate);
    if (!zlib_compress || PyType_Ready(&PostingBufferType) < 0 || PyType_Ready(&MergeType) < 0) return NULL;
    if (!(s_stopped = PyUnicode_InternFromString("stopped")) || !(s_startchar = PyUnicode_InternFromString("startchar"))
        || !(s_endchar = PyUnicode_InternFromString("endchar")) || !(s_text = PyUnicode_InternFromString("text"))
        || !(s_pos = PyUnicode_InternFromString("pos")) || !(s_boost = PyUnicode_InternFromString("boost"))
        || !(float_zero = PyFloat_FromDouble(0.0)))
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module && PyModule_AddObjectRef(module, "PostingBuffer", (PyObject *)&PostingBufferType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
