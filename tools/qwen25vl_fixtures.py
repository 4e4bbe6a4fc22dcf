#!/usr/bin/env python3
"""Dev-only: tiny random Qwen2.5-VL checkpoints + transformers reference outputs for lmmr1-model.

Needs torch, transformers (5.x), safetensors, pillow, numpy (CPU is enough), e.g.
    python3 -m venv /work/venvs/torch && /work/venvs/torch/bin/pip install torch transformers safetensors pillow
    /work/venvs/torch/bin/python tools/qwen25vl_fixtures.py            # -> crates/lmmr1-model/tests/fixtures
    /work/venvs/torch/bin/python tools/qwen25vl_fixtures.py --real-vocab /tmp/qwen25vl_realvocab
The second form builds the tied real-vocabulary (151936) variant (~40 MB, not committed); the ignored
Rust test `real_vocab_parity` reads it from $LMMR1_REALVOCAB_DIR.

Outputs (default dir):
  tiny/        config.json (transformers-5 nested layout), config_flat.json (hub layout), model.safetensors
  tiny_tied/   same, vocab 1024, tie_word_embeddings = true (no lm_head.weight)
  reference.safetensors   keys "<case>.<name>" (see CASES below) and "proc.<name>.*" for the image processor
  meta.json    versions, cases, special ids
"""
import argparse, json, os, sys
import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.vision_utils import get_vision_window_index

SMALL_IDS = dict(image=1000, video=1001, vstart=1002, vend=1003, eos=1004, pad=1005)
REAL_IDS = dict(image=151655, video=151656, vstart=151652, vend=151653, eos=151645, pad=151643)
MIN_PIXELS, MAX_PIXELS = 3136, 1003520


def make_config(vocab, ids, tied):
    text = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=4096,
                rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e6},
                eos_token_id=ids["eos"], pad_token_id=ids["pad"], bos_token_id=ids["pad"])
    vision = dict(depth=2, hidden_size=32, num_heads=2, intermediate_size=64, out_hidden_size=64, patch_size=14,
                  temporal_patch_size=2, spatial_merge_size=2, window_size=56, fullatt_block_indexes=[1],
                  tokens_per_second=2, in_channels=3, hidden_act="silu")
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=ids["image"],
                           video_token_id=ids["video"], vision_start_token_id=ids["vstart"],
                           vision_end_token_id=ids["vend"], tie_word_embeddings=tied)
    cfg._attn_implementation = "eager"
    cfg.text_config._attn_implementation = "eager"
    cfg.vision_config._attn_implementation = "eager"
    return cfg, text, vision


def flat_config(text, vision, ids, tied):
    """The hub layout of the released checkpoints."""
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
        "vocab_size": text["vocab_size"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu", "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096, "rope_theta": 1000000.0,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
        "tie_word_embeddings": tied, "torch_dtype": "float32", "use_cache": True, "sliding_window": 4096,
        "use_sliding_window": False, "max_window_layers": 2, "attention_dropout": 0.0,
        "bos_token_id": ids["pad"], "eos_token_id": ids["eos"],
        "vision_start_token_id": ids["vstart"], "vision_end_token_id": ids["vend"],
        "vision_token_id": ids["vstart"] + 2, "image_token_id": ids["image"], "video_token_id": ids["video"],
        "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                          "hidden_act": "silu", "in_chans": 3, "patch_size": 14, "spatial_patch_size": 14,
                          "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
                          "fullatt_block_indexes": [1], "tokens_per_second": 2, "out_hidden_size": 64},
    }


def reinit(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "norm1" in name or "norm2" in name or "ln_q" in name or \
                    "layernorm" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    if model.config.tie_word_embeddings:
        model.tie_weights()


def image(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(x / 7 + c) * np.cos(y / 9 - c) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


def text_positions(mask):
    pos = mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)
    return pos[None].expand(3, -1, -1).contiguous()


def positions(model, ids, mask, grid, img_id, prompt_len=None):
    if grid is None:
        return text_positions(mask)
    mm = (ids == img_id).int()
    if prompt_len is not None:
        mm[:, prompt_len:] = 0  # generated tokens are text, whatever their id
    pos, _ = model.model.get_rope_index(ids, mm_token_type_ids=mm, image_grid_thw=grid, attention_mask=mask)
    return pos


@torch.no_grad()
def run_case(model, ids, mask, pv, grid, img_id, n_new):
    out = {"input_ids": ids, "attention_mask": mask}
    pos = positions(model, ids, mask, grid, img_id)
    out["position_ids"] = pos
    kw = {}
    if pv is not None:
        kw = dict(pixel_values=pv, image_grid_thw=grid)
        out["pixel_values"] = pv
        out["image_grid_thw"] = grid
        emb = model.model.get_image_features(pv, grid).pooler_output
        out["vision.image_embeds"] = torch.cat(emb, 0)
        widx, cu = get_vision_window_index(grid, spatial_merge_size=2, window_size=56, patch_size=14)
        out["vision.window_index"] = torch.as_tensor(widx).long()
        out["vision.cu_window_seqlens"] = torch.as_tensor(cu).long()
    res = model(input_ids=ids, attention_mask=mask, position_ids=pos, **kw)
    out["logits"] = res.logits
    # Greedy continuation by full re-forward (no cache): the plain semantics to match. Image
    # features go into the prompt's image tokens only (generated ids are plain tokens).
    prompt_len = ids.shape[1]
    base = model.model.get_input_embeddings()(ids)
    if pv is not None:
        feats = torch.cat(model.model.get_image_features(pv, grid).pooler_output, 0)
        base = base.masked_scatter((ids == img_id)[..., None].expand_as(base), feats)
    cur_ids, cur_mask = ids, mask
    new = []
    for _ in range(n_new):
        p = positions(model, cur_ids, cur_mask, grid, img_id, prompt_len)
        emb = torch.cat([base, model.model.get_input_embeddings()(cur_ids[:, prompt_len:])], 1)
        lg = model(inputs_embeds=emb, attention_mask=cur_mask, position_ids=p).logits[:, -1]
        nxt = lg.argmax(-1, keepdim=True)
        new.append(nxt)
        cur_ids = torch.cat([cur_ids, nxt], 1)
        cur_mask = torch.cat([cur_mask, torch.ones_like(nxt)], 1)
    out["greedy"] = torch.cat(new, 1)
    return out


def seq_with_images(rng, vocab_text, ids, ntoks, text_lens):
    s = list(rng.integers(0, vocab_text, text_lens[0]))
    for n, tl in zip(ntoks, text_lens[1:]):
        s += [ids["vstart"]] + [ids["image"]] * n + [ids["vend"]] + list(rng.integers(0, vocab_text, tl))
    return s


def build(out_dir, vocab, ids, tied, seed, cases=True):
    os.makedirs(out_dir, exist_ok=True)
    cfg, text, vision = make_config(vocab, ids, tied)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval().float()
    reinit(model, seed)
    model.save_pretrained(out_dir, safe_serialization=True)
    with open(os.path.join(out_dir, "config_flat.json"), "w") as f:
        json.dump(flat_config(text, vision, ids, tied), f, indent=2)
    for extra in ("generation_config.json",):
        p = os.path.join(out_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    return model


def processor_refs(proc_small):
    refs = {}
    specs = {"p56": (56, 56, MIN_PIXELS, MAX_PIXELS), "p100x150": (100, 150, MIN_PIXELS, MAX_PIXELS),
             "p20x30": (20, 30, MIN_PIXELS, MAX_PIXELS), "p300x220": (300, 220, MIN_PIXELS, 28 * 28 * 40),
             "p61x97": (61, 97, MIN_PIXELS, MAX_PIXELS)}
    for i, (name, (h, w, mn, mx)) in enumerate(specs.items()):
        img = image(h, w, 100 + i)
        proc = Qwen2VLImageProcessorPil(min_pixels=mn, max_pixels=mx)
        o = proc(images=[img], return_tensors="pt")
        refs[f"proc.{name}.uint8_hwc"] = torch.from_numpy(img)
        refs[f"proc.{name}.pixel_values"] = o["pixel_values"].float()
        refs[f"proc.{name}.image_grid_thw"] = o["image_grid_thw"].long()
        refs[f"proc.{name}.min_max_pixels"] = torch.tensor([mn, mx]).long()
    return refs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "crates", "lmmr1-model",
                                                  "tests", "fixtures"))
    ap.add_argument("--real-vocab", metavar="DIR", help="also build the tied 151936-vocab variant in DIR")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    refs = {}
    model = build(os.path.join(args.out, "tiny"), 1024, SMALL_IDS, False, 1)
    tied = build(os.path.join(args.out, "tiny_tied"), 1024, SMALL_IDS, True, 2)
    proc = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    img_id, pad = SMALL_IDS["image"], SMALL_IDS["pad"]

    def pv_of(imgs):
        o = proc(images=imgs, return_tensors="pt")
        return o["pixel_values"].float(), o["image_grid_thw"].long()

    # text: one row of 16 tokens
    ids = torch.tensor([rng.integers(0, 1000, 16)]).long()
    mask = torch.ones_like(ids)
    cases = {"text": (model, ids, mask, None, None)}
    # text_leftpad: row 1 left-padded by 5
    ids2 = torch.tensor(np.stack([rng.integers(0, 1000, 16), rng.integers(0, 1000, 16)])).long()
    mask2 = torch.ones_like(ids2)
    ids2[1, :5] = pad
    mask2[1, :5] = 0
    cases["text_leftpad"] = (model, ids2, mask2, None, None)
    cases["tied_text"] = (tied, ids, mask, None, None)
    # image: one 112x168 image (grid 1x8x12, 24 tokens, merged 4x6: several 2x2 windows)
    im1 = image(112, 168, 1)
    pv, grid = pv_of([im1])
    s = seq_with_images(rng, 1000, SMALL_IDS, [24], [5, 6])
    cases["image"] = (model, torch.tensor([s]).long(), torch.ones(1, len(s)).long(), pv, grid)
    # image_multi: 84x112 (grid 1x6x8, 12 tokens) and 100x150 (resized to 112x140: grid 1x8x10, 20 tokens)
    im2, im3 = image(84, 112, 2), image(100, 150, 3)
    pv, grid = pv_of([im2, im3])
    s = seq_with_images(rng, 1000, SMALL_IDS, [12, 20], [3, 4, 5])
    cases["image_multi"] = (model, torch.tensor([s]).long(), torch.ones(1, len(s)).long(), pv, grid)
    # image_batch: row 0 a 56x56 image (4 tokens) + text, row 1 text only, left-padded
    im4 = image(56, 56, 4)
    pv, grid = pv_of([im4])
    s0 = seq_with_images(rng, 1000, SMALL_IDS, [4], [4, 5])
    s1 = [pad] * 6 + list(rng.integers(0, 1000, len(s0) - 6))
    ids3 = torch.tensor([s0, s1]).long()
    mask3 = torch.ones_like(ids3)
    mask3[1, :6] = 0
    cases["image_batch"] = (model, ids3, mask3, pv, grid)
    for name, (m, i, msk, p, g) in cases.items():
        for k, v in run_case(m, i, msk, p, g, img_id, 8).items():
            refs[f"{name}.{k}"] = v.contiguous()
    # video: one clip of 4 frames, 56x56 -> grid (2, 4, 4), 8 tokens, second_per_grid_t 0.5 (temporal
    # positions 0 and 1), followed by an image (4 tokens). Logits and positions only.
    g = torch.Generator().manual_seed(5)
    pvv = torch.randn(32, 1176, generator=g)
    vgrid = torch.tensor([[2, 4, 4]])
    spg = torch.tensor([0.5])
    pv, grid = pv_of([im4])
    vid = SMALL_IDS["video"]
    s = list(rng.integers(0, 1000, 3)) + [SMALL_IDS["vstart"]] + [vid] * 8 + [SMALL_IDS["vend"]] + \
        list(rng.integers(0, 1000, 2)) + [SMALL_IDS["vstart"]] + [img_id] * 4 + [SMALL_IDS["vend"]] + \
        list(rng.integers(0, 1000, 3))
    vids = torch.tensor([s]).long()
    vmask = torch.ones_like(vids)
    mm = (vids == img_id).int() + 2 * (vids == vid).int()
    with torch.no_grad():
        vpos, vdelta = model.model.get_rope_index(vids, mm_token_type_ids=mm, image_grid_thw=grid,
                                                  video_grid_thw=vgrid, second_per_grid_ts=spg, attention_mask=vmask)
        vout = model(input_ids=vids, attention_mask=vmask, position_ids=vpos, pixel_values=pv, image_grid_thw=grid,
                     pixel_values_videos=pvv, video_grid_thw=vgrid, second_per_grid_ts=spg)
        vemb = torch.cat(model.model.get_video_features(pvv, vgrid).pooler_output, 0)
    for k, v in {"input_ids": vids, "attention_mask": vmask, "position_ids": vpos, "pixel_values": pv,
                 "image_grid_thw": grid, "pixel_values_videos": pvv, "video_grid_thw": vgrid,
                 "second_per_grid_ts": spg, "logits": vout.logits, "vision.video_embeds": vemb}.items():
        refs[f"video.{k}"] = v
    for name, im in (("img112x168", im1), ("img84x112", im2), ("img100x150", im3), ("img56", im4)):
        refs[f"images.{name}.uint8_hwc"] = torch.from_numpy(im)
    refs.update(processor_refs(proc))
    save_file({k: v.detach().clone().contiguous() for k, v in refs.items()}, os.path.join(args.out, "reference.safetensors"))
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "ids": SMALL_IDS,
            "cases": list(cases), "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS,
            "notes": "position_ids of text-only rows are cumsum(mask)-1 with pads 1 (passed explicitly); "
                     "image rows use get_rope_index with mm_token_type_ids (pads 0); greedy = full re-forward"}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)

    if args.real_vocab:
        real = build(args.real_vocab, 151936, REAL_IDS, True, 3)
        r = {}
        s = list(rng.integers(0, 151000, 5)) + [REAL_IDS["vstart"]] + [REAL_IDS["image"]] * 24 + \
            [REAL_IDS["vend"]] + list(rng.integers(0, 151000, 6))
        pv, grid = pv_of([im1])
        o = run_case(real, torch.tensor([s]).long(), torch.ones(1, len(s)).long(), pv, grid, REAL_IDS["image"], 8)
        for k in ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "greedy"):
            r[f"image.{k}"] = o[k].contiguous()
        r["image.last_logits"] = o["logits"][:, -1].contiguous()
        save_file(r, os.path.join(args.real_vocab, "reference.safetensors"))
    print("ok", file=sys.stderr)


if __name__ == "__main__":
    main()
