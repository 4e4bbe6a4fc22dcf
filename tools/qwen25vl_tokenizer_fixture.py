#!/usr/bin/env python3
"""Dev-only: a tiny byte-level BPE tokenizer.json with Qwen's special tokens at the tiny model's ids
(1000..), plus reference chat prompts rendered by the Qwen2-VL / Qwen2.5-VL chat template (jinja2) and
their ids from the Python `tokenizers` library. Output: crates/lmmr1-model/tests/fixtures/tokenizer/.

    /work/venvs/torch/bin/python tools/qwen25vl_tokenizer_fixture.py
"""
import json, os
import jinja2
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, Regex

# The chat template of Qwen/Qwen2.5-VL-*-Instruct (identical to Qwen2-VL's).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|im_end|>",
            "<|endoftext|>", "<|im_start|>"]  # ids 1000..1006, as the tiny model's config
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")

CORPUS = [
    "You are a helpful assistant. What is 12+30? Let me think step by step.",
    "The triangle ABC has sides 3, 4 and 5; its area is 6. <think>reasoning</think><answer>42</answer>",
    "Push the box onto the target. Move up, down, left, right. 你好，世界。",
] * 50


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "crates", "lmmr1-model", "tests", "fixtures", "tokenizer")
    os.makedirs(out, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    # Pad the vocabulary to 1000 so the special tokens land on 1000.. as in the tiny model.
    n = tok.get_vocab_size()
    tok.add_tokens([f"<|reserved_{i}|>" for i in range(n, 1000)])
    tok.add_special_tokens(SPECIALS)
    assert tok.token_to_id("<|image_pad|>") == 1000 and tok.token_to_id("<|im_start|>") == 1006
    tok.save(os.path.join(out, "tokenizer.json"))
    env = jinja2.Environment()
    tmpl = env.from_string(CHAT_TEMPLATE)
    convs = {
        "text": [{"role": "user", "content": "What is 12+30?"}],
        "image": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find the area."}]}],
        "system_two_images": [
            {"role": "system", "content": "Answer in <answer></answer> tags."},
            {"role": "user", "content": [{"type": "text", "text": "Compare "}, {"type": "image"},
                                         {"type": "text", "text": " and "}, {"type": "image"}]},
            {"role": "assistant", "content": "They differ."},
            {"role": "user", "content": "Why? 你好"}],
    }
    refs = {}
    for name, msgs in convs.items():
        text = tmpl.render(messages=msgs, add_generation_prompt=True, add_vision_id=False)
        refs[name] = {"messages": msgs, "prompt": text, "ids": tok.encode(text, add_special_tokens=False).ids}
    # Expansion of each <|image_pad|> to the image's token count, as Qwen2_5_VLProcessor does.
    p = refs["system_two_images"]["prompt"]
    counts = [3, 5]
    parts = p.split("<|image_pad|>")
    exp = parts[0] + "".join("<|image_pad|>" * c + rest for c, rest in zip(counts, parts[1:]))
    refs["expanded"] = {"counts": counts, "prompt": exp, "ids": tok.encode(exp, add_special_tokens=False).ids}
    refs["decode"] = {"ids": refs["text"]["ids"], "text": tok.decode(refs["text"]["ids"], skip_special_tokens=False),
                      "text_skip_special": tok.decode(refs["text"]["ids"], skip_special_tokens=True)}
    with open(os.path.join(out, "chat_reference.json"), "w") as f:
        json.dump(refs, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
