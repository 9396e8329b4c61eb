"""test_wordnet.py - WordNet 3.0 end to end, checked against Debian's `wn`.

The acceptance test of the bulk tools and the graph queries on real data that
nobody on the team wrote:

1. wordnet2jsonl converts /usr/share/wordnet (Debian wordnet-base) to JSONL;
2. sutra-import loads all of it into a fresh store directory;
3. the store's counts (concepts, associations) must equal the converter's;
4. for a fixed, seeded sample of noun synsets, the shortest hypernym chain to
   `entity` found by the engine (wn_paths: sutra_find_path_ex over
   hierarchical associations, direction out) must have as many hops as the
   shortest chain Debian's `wn WORD -nSENSE -hypen` prints (its "=>" levels).

The tools come from the environment CTest sets (WORDNET2JSONL, SUTRA_IMPORT,
WN_PATHS). scripts/setup-deps.sh installs wordnet-base and wordnet, so their
absence is a failure, not a skip; SUTRA_SKIP_DATA=1 skips on purpose.
"""

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest

WORDNET = os.environ.get("WNSEARCHDIR") or "/usr/share/wordnet"
WN = shutil.which("wn") or "/usr/bin/wn"
ENTITY = "00001740"
SEED = 20240117
SAMPLE = 250
# Always in the sample: the root, an ordinary noun with two hypernyms, an
# instance (instance hypernym) and a noun far from the root.
FIXED = [("entity", 1), ("dog", 1), ("einstein", 1), ("oak", 1), ("sonata", 1)]


def tool(name):
    path = os.environ.get(name, "")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest(f"{name} is not set to a built tool (run through ctest)")
    return path


def read_noun_synsets():
    """offset -> list of words (as written, markers stripped) from data.noun."""
    words = {}
    with open(os.path.join(WORDNET, "data.noun"), encoding="ascii") as f:
        for line in f:
            if line.startswith("  "):
                continue
            t = line.split(" ")
            n = int(t[3], 16)
            words[t[0]] = [t[4 + 2 * i] for i in range(n)]
    return words


def read_noun_index():
    """lemma -> synset offsets in sense order, from index.noun."""
    senses = {}
    with open(os.path.join(WORDNET, "index.noun"), encoding="ascii") as f:
        for line in f:
            if line.startswith("  "):
                continue
            t = line.split()
            count = int(t[2])
            senses[t[0]] = t[-count:]
    return senses


def wn_hops(lemma, sense):
    """(hops of the shortest chain to entity, the synset's words line) from wn."""
    out = subprocess.run([WN, lemma, f"-n{sense}", "-hypen"], capture_output=True, text=True,
                         check=False).stdout
    # wn may print one block per base form (morphology); keep the lemma's own.
    blocks = re.split(r"\n(?=Synonyms/Hypernyms)", out)
    block = next((b for b in blocks if re.search(rf"of noun {re.escape(lemma)}\n", b)), None)
    if block is None:
        return None, f"no block for {lemma!r} in:\n{out}"
    lines = block.split("\n")
    try:
        at = lines.index(f"Sense {sense}")
    except ValueError:
        return None, f"no 'Sense {sense}' in:\n{block}"
    synset_words, best = lines[at + 1], None
    if synset_words.strip() == "entity":
        best = 0
    for line in lines[at + 2:]:
        m = re.match(r"^( +)(?:INSTANCE OF)?=> (.*)$", line)
        if not m:
            break
        indent, text = len(m.group(1)), m.group(2).strip()
        if (indent - 7) % 4:
            return None, f"unexpected indentation {indent}: {line!r}"
        level = (indent - 7) // 4 + 1
        if text == "entity" and (best is None or level < best):
            best = level
    return best, synset_words


def counts_from(stderr):
    syn = re.search(r"(\d+) synsets", stderr)
    assoc = re.search(r"(\d+) associations \(", stderr)
    if not syn or not assoc:
        raise AssertionError("wordnet2jsonl printed no counts:\n" + stderr)
    return int(syn.group(1)), int(assoc.group(1))


class WordNetAcceptance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("SUTRA_SKIP_DATA") == "1":
            raise unittest.SkipTest("SUTRA_SKIP_DATA=1: the WordNet data test is skipped")
        cls.convert = tool("WORDNET2JSONL")
        cls.importer = tool("SUTRA_IMPORT")
        cls.paths = tool("WN_PATHS")
        missing = [p for p in (os.path.join(WORDNET, "data.noun"), WN) if not os.path.exists(p)]
        if missing:
            raise AssertionError(f"missing {missing}: run scripts/setup-deps.sh (it installs "
                                 "wordnet-base and wordnet), or set SUTRA_SKIP_DATA=1")
        cls.tmp = tempfile.mkdtemp(prefix="sutra-wordnet-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_tool(self, args, stdin=None):
        t0 = time.monotonic()
        p = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, f"{args[0]} failed:\n{p.stderr}")
        print(f"  {os.path.basename(args[0])}: {took:.2f} s")
        return p

    def sample(self):
        """(offset, lemma, sense) for FIXED plus SAMPLE seeded noun synsets."""
        words, index = read_noun_synsets(), read_noun_index()
        picks = [(index[lemma][sense - 1], lemma, sense) for lemma, sense in FIXED]
        for off in random.Random(SEED).sample(sorted(words), SAMPLE):
            lemma = words[off][0].lower()
            picks.append((off, lemma, index[lemma].index(off) + 1))
        return words, picks

    def test_wordnet_end_to_end(self):
        jsonl = os.path.join(self.tmp, "wordnet.jsonl")
        store = os.path.join(self.tmp, "store")
        conv = self.run_tool([self.convert, "--wordnet", WORDNET, "--out", jsonl])
        synsets, assocs = counts_from(conv.stderr)
        self.assertEqual(synsets, 117659, conv.stderr)  # WordNet 3.0
        self.run_tool([self.importer, "--dir", store, "--durability", "none", "--no-progress",
                       jsonl])

        words, picks = self.sample()
        keys = "".join(f"wn30:n:{off}\n" for off, _, _ in picks)
        out = self.run_tool([self.paths, store], stdin=keys).stdout.split("\n")
        self.assertEqual(out[0], f"stats {synsets} {assocs}", "store counts != converter's")
        ours = dict(line.split(" ", 1) for line in out[1:] if line)

        t0, failures = time.monotonic(), []
        for off, lemma, sense in picks:
            expect, shown = wn_hops(lemma, sense)
            readable = ", ".join(w.replace("_", " ") for w in words[off])
            if expect is None or shown != readable:
                failures.append(f"{lemma} -n{sense} (wn30:n:{off}): wn shows {shown!r}, "
                                f"synset is {readable!r}")
            elif ours.get(f"wn30:n:{off}") != str(expect):
                failures.append(f"{lemma} -n{sense} (wn30:n:{off}): wn {expect} hops, "
                                f"engine {ours.get('wn30:n:' + off)}")
        print(f"  wn: {len(picks)} synsets compared in {time.monotonic() - t0:.2f} s")
        self.assertEqual(failures, [], "\n".join(failures))


if __name__ == "__main__":
    unittest.main()
