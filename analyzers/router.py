"""Mixed-script text: split into script runs and send each run to its chain.

A Thai article quoting "Nenetskiy", a Chinese one quoting "King’s Day" and a
query like "Hải Phòng 友好" all mix scripts; every run is analyzed by the chain
made for it, with offsets and positions continuing across runs.
"""
from whoosh.analysis import Analyzer, Token

from .scripts import dominant_script, script_runs


class ScriptRouter(Analyzer):
    """An analyzer that dispatches script runs to per-script analyzers."""

    def __init__(self, chains: dict, default):
        self.chains = chains      # script class -> analyzer (Tokenizer | Filter ...)
        self.default = default    # analyzer for scripts without a chain of their own

    def __eq__(self, other):
        return (self.__class__ is other.__class__ and self.chains == other.chains
                and self.default == other.default)

    def chain_for(self, script):
        return self.chains.get(script, self.default)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        if not isinstance(value, str):
            value = str(value)
        options = dict(positions=positions, chars=chars, keeporiginal=keeporiginal,
                       removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            # A single pre-split term (e.g. from a wildcard): filter it with its script's chain.
            yield from self.chain_for(dominant_script(value))(
                value, tokenize=False, start_pos=start_pos, start_char=start_char, **options)
            return
        next_pos = start_pos
        for script, start, end in script_runs(value):
            chain = self.chain_for(script)
            token = None
            for token in chain(value[start:end], start_pos=next_pos,
                               start_char=start_char + start, **options):
                yield token
            if token is not None and positions:
                next_pos = token.pos + 1


def analyze(analyzer, text: str, mode: str = "index") -> list[Token]:
    """Tokens with positions and offsets, copied (Whoosh reuses one Token object)."""
    return [t.copy() for t in analyzer(text, positions=True, chars=True, mode=mode)]
