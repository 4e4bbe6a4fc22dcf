#!/usr/bin/env python3
"""Dev-only: the embedded default policy's tokenizer, crates/lmmr1-trainer/assets/tiny/tokenizer.json.

A byte-level BPE like Qwen2.5's (same split regex, byte-level alphabet, decoder) with a 494-token
vocabulary learnt from LMM-R1's system prompt and arithmetic text, then Qwen2.5-VL's 14 special
tokens in Qwen's order (so the chat template and the vision tokens work unchanged), then
`<think>`, `</think>`, `<answer>`, `</answer>` as ordinary added tokens: 512 ids in all.

    /work/venvs/torch/bin/python tools/tiny_policy_tokenizer.py
"""
import os
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, Regex, AddedToken

QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")
# Qwen2.5-VL's special tokens, in id order (151643..151656 in the real vocabulary).
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>"]
BPE_VOCAB = 512 - len(SPECIALS) - len(TAGS)

# LMM-R1's training system prompt (method.md §4.1), exact bytes.
R1_MATH = ("You are a helpful assistant good at solving math problems with step-by-step reasoning. You should "
           "first thinks about the reasoning process in the mind and then provides the user with the answer. "
           "Your answer must be in latex format and wrapped in $...$.The reasoning process and answer are enclosed "
           "within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> Since $1+1=2$, so the "
           "answer is $2$. </think><answer> $2$ </answer>, which means your output should start with <think> and "
           "end with </answer>.")
WORDS = ("What is the value of Solve for x Compute Find How many apples oranges books coins marbles does he she "
         "they have left in all total more fewer buys gives away each bag box has There are Tom Ann Sam Mia Ben "
         "Lily cost dollars times twice half of sum difference product fraction Simplify If then equals answer "
         "You are a helpful assistant. Think step by step. Sokoban Left Right Up Down move push box target")
CORPUS = [R1_MATH] * 20 + [WORDS] * 10 + [
    "What is 12+30? 12+30=42 $42$ 7-5=2 3*4=12 3x+2=11 x=3 \\frac{3}{4} 1/2 (2+3)*4=20 -7 0.5",
] * 10


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "crates", "lmmr1-trainer", "assets", "tiny")
    os.makedirs(out, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    assert tok.get_vocab_size() == BPE_VOCAB, tok.get_vocab_size()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    assert tok.get_vocab_size() == 512
    tok.save(os.path.join(out, "tokenizer.json"))
    for s in SPECIALS + TAGS:
        print(s, tok.token_to_id(s))
    print("system prompt tokens:", len(tok.encode(R1_MATH).ids))


if __name__ == "__main__":
    main()
