#!/usr/bin/env python3
"""Prints tokenizer test vectors (prompt -> cleaned text -> ids) as JSON, from Hugging Face.

Usage: python3 tools/reference/tokenizer_vectors.py TOKENIZER_DIR > tests/data/tokenizer_vectors.json

TOKENIZER_DIR is a Wan `tokenizer/` folder (spiece.model + tokenizer_config.json); the committed
vectors come from the tiny one, i.e. the `tokenizer/` folder of `fastvideo make-tiny-model DIR`
(any caller of `write_tiny_tokenizer` gives the same bytes; the file records its sha256). Needs `pip install sentencepiece transformers
protobuf` (no torch).

The ids come from `transformers.T5Tokenizer.from_pretrained(dir)` called as the pipelines call it
(`truncation=True, max_length=512, add_special_tokens=True`). In transformers >= 5 that class is
the `tokenizers`-backed one (what `T5TokenizerFast` was in 4.x, the class Wan's model_index.json
names), converted from spiece.model. As an independent cross-check, every vector is also encoded
with the `sentencepiece` package plus EOS id 1 (truncated to 511 + EOS); the script stops if the
two disagree. Prompts are cleaned first exactly as diffusers' `prompt_clean` does (wan21.md §3.3),
without ftfy: html.unescape twice, `\\s+` -> ' ', strip.
"""
import hashlib
import html
import json
import re
import sys

import sentencepiece
import transformers

MAX_LENGTH = 512
EOS_ID = 1


def prompt_clean(text: str) -> str:
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def long_prompt(words: int) -> str:
    vocabulary = ("a cat walks slowly across the sunny garden while the camera pans left to "
                  "reveal a quiet mountain lake at dawn with snow and bright golden light").split()
    return " ".join(vocabulary[(7 * i) % len(vocabulary)] for i in range(words))


PROMPTS = [
    ("ascii", "A cat walks slowly across a sunny garden, its tail swaying in the warm breeze."),
    ("punctuation", "Wait... what?! (A dog, a cat; and 3 birds) -- \"quoted\" 'text' at 8:45 pm."),
    ("html_escaped_twice", "Fish &amp;amp; Chips &amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; &amp;quot;x&amp;quot;"),
    ("numeric_references", "caf&#233; &#xE9;t&#XE9; &#8220;quotes&#8221; &#128512; &#0; &#x80; &#65"),
    ("named_references", "&quot;Fish&quot; &apos;n&apos; &lt;chips&gt; &copy;&eacute;clair &notit; &notin; &ampx"),
    ("entity_whitespace", "A&nbsp;&nbsp;cat &amp;nbsp; dog&#9;&#x3000;bird"),
    ("unicode_whitespace", "  A\tcat\n\n walks\u00a0\u00a0across\u3000the\u2003garden\r\n\u0085 "),
    ("empty", ""),
    ("whitespace_only", " \t\u3000\u00a0 \n"),
    ("non_ascii", "A café in Paris, a naïve façade — 東京の夜景 🎥"),
    ("negative_prompt", "Bright tones, overexposed, static, blurred details, subtitles, style, works, "
                        "paintings, images, static, overall gray, worst quality, low quality"),
    ("long_2000_words", long_prompt(2000)),
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    hf = transformers.T5Tokenizer.from_pretrained(directory)
    spm = sentencepiece.SentencePieceProcessor(model_file=f"{directory}/spiece.model")
    vectors = []
    for name, prompt in PROMPTS:
        cleaned = prompt_clean(prompt)
        ids = hf(cleaned, truncation=True, max_length=MAX_LENGTH, add_special_tokens=True).input_ids
        spm_ids = spm.encode(cleaned)[:MAX_LENGTH - 1] + [EOS_ID]
        if ids != spm_ids:
            sys.exit(f"{name}: transformers gives {ids}, sentencepiece + EOS gives {spm_ids}")
        vectors.append({"name": name, "prompt": prompt, "cleaned": cleaned, "ids": ids})
    json.dump({
        "generator": (f"tools/reference/tokenizer_vectors.py, transformers {transformers.__version__} "
                      f"{type(hf).__name__}, sentencepiece {sentencepiece.__version__}"),
        "spiece_model_sha256": hashlib.sha256(open(f"{directory}/spiece.model", "rb").read()).hexdigest(),
        "max_length": MAX_LENGTH,
        "vocab_size": len(hf),
        "vectors": vectors,
    }, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
