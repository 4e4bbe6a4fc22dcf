#!/usr/bin/env python3
"""Dev-only: the embedded default policy's tokenizer, crates/lmmr1-trainer/assets/tiny/tokenizer.json.

A byte-level BPE like Qwen2.5's (same split regex, byte-level alphabet, decoder) with a 494-token
vocabulary learnt from LMM-R1's system prompt, arithmetic text and the image/agent tasks' short
prompts, Sokoban plans and football action ids, then Qwen2.5-VL's 14 special
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
# The image and agent tasks' short prompts and answers (lmmr1-tasks: geo, perce, visual_math,
# sokoban, football), so that plans and action ids are a few tokens each.
TASK_TEXT = ("Find x. Find the area. Find the perimeter. Find the diameter. Find the circumference. "
             "Compute the expression in the image. Solve the equation in the image. "
             "How many red circles and blue squares in all? How many green circles? What is A+B? What is C-D? "
             "What is the total? How much longer is the top line than the bottom line? "
             "Solve the Sokoban. Next move? Score a goal. Next action?")
PLANS = ("<think>right 2, up 1, left 3, down 2</think><answer>Right, Right, Up, Left, Left, Left, Down, Down</answer> "
         "<answer>Up, Down, Left, Right</answer> "
         "<think>sprint, right 2, top_right, shot</think><answer>action_sprint, action_right, action_right, "
         "action_top_right, action_bottom_right, action_short_pass, action_shot</answer> action_left action_top "
         "action_bottom action_bottom_left action_top_left action_long_pass action_high_pass action_dribble "
         "action_release_sprint action_release_dribble")
CORPUS = [R1_MATH] * 20 + [WORDS] * 10 + [TASK_TEXT] * 10 + [PLANS] * 20 + [
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
    for probe in ["<think>right 2, up 1</think><answer>Right, Right, Up</answer>",
                  "<answer>action_sprint, action_right, action_shot</answer>",
                  "<think>47+38=47+30+8=77+8=85</think><answer>$85$</answer>"]:
        print(len(tok.encode(probe).ids), "tokens:", probe)


if __name__ == "__main__":
    main()
