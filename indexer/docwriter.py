"""Whoosh's SegmentWriter.add_document, with each positional text field's postings made and
pooled in C.

For every field of every document Whoosh's writer runs three Python layers per posting: the
format's word_values generator (TermPositions), FieldType.index's generator (the term to
UTF-8) and add_document's loop (the field boost, the length, the tuple, the pool's add). With
the compiled pool (postingpool.CompiledPostingPool), a field whose format is TermPositions
hands its token stream to the pool's add_field instead (indexer/csegment/posting_pool.c): the
same postings, in the same order, with the same weights, positions and values (tests compare
the segments). Every other field, and every other pool, goes through Whoosh's loop.

pooling_fields_in_c() swaps the method while a reindex runs, as the other modules swap their
classes; writer processes forked meanwhile inherit it. The body is Whoosh 3.54.0's, but for
the marked branch.
"""
from contextlib import contextmanager

from whoosh import fields as whoosh_fields
from whoosh import writing
from whoosh.util.text import utf8encode

_FIELD_INDEX = whoosh_fields.FieldType.index


def add_document(self, **fields):
    self._check_state()
    perdocwriter = self.perdocwriter
    schema = self.schema
    docnum = self.docnum
    add_post = self.pool.add
    add_field = getattr(self.pool, "add_field", None)      # CompiledPostingPool's

    docboost = self._doc_boost(fields)
    fieldnames = sorted([name for name in fields if not name.startswith("_")])
    self._check_fields(schema, fieldnames)

    perdocwriter.start_doc(docnum)
    try:
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            if value is None:
                continue
            field = schema[fieldname]

            length = 0
            if field.indexed:
                fieldboost = self._field_boost(fields, fieldname, docboost)
                pool_postings = getattr(field.format, "pool_postings", None)
                if (add_field is not None and pool_postings is not None and isinstance(value, str)
                        and type(field).index is _FIELD_INDEX and not field.separate_spelling()):
                    # polysearch: the postings made and pooled in C (TermPositions.pool_postings)
                    frequencies = pool_postings(value, field.analyzer, add_field, fieldname, docnum, fieldboost)
                    if field.scorable:
                        length = frequencies
                else:
                    items = field.index(value)
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in items:
                        weight *= fieldboost
                        if scorable:
                            length += freq
                        add_post((fieldname, tbytes, docnum, weight, vbytes))

            if field.separate_spelling():
                spellfield = field.spelling_fieldname(fieldname)
                for word in field.spellable_words(value):
                    word = utf8encode(word)[0]
                    add_post((spellfield, word, 0, 1, vbytes))

            vformat = field.vector
            if vformat:
                analyzer = field.analyzer
                vitems = vformat.word_values(value, analyzer, mode="index")
                vitems = sorted((text, weight, vbytes) for text, _, weight, vbytes in vitems)
                perdocwriter.add_vector_items(fieldname, field, vitems)

            customval = fields.get(f"_stored_{fieldname}", value)
            sv = customval if field.stored else None
            perdocwriter.add_field(fieldname, field, sv, length)

            column = field.column_type
            if column and customval is not None:
                cv = field.to_column_value(customval)
                perdocwriter.add_column_value(fieldname, column, cv)
    except ValueError as ex:
        perdocwriter.cancel_doc()
        raise ex

    perdocwriter.finish_doc()
    self._added = True
    self.docnum += 1


@contextmanager
def pooling_fields_in_c():
    """Whoosh segment writers used inside this block add positional fields through the compiled
    pool when they have one."""
    original = writing.SegmentWriter.add_document
    writing.SegmentWriter.add_document = add_document
    try:
        yield
    finally:
        writing.SegmentWriter.add_document = original
