//! Config layouts, checkpoint variants (sharded, prefixes, tied, bf16) and error cases.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use common::*;
use lmmr1_model::{Config, Error, Qwen25VL};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lmmr1-model-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn raw(dir: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join(dir).join("model.safetensors"), &Device::Cpu)
        .unwrap()
}

fn write_ckpt(dir: &Path, ts: &HashMap<String, Tensor>, config_from: &str) {
    candle_core::safetensors::save(ts, dir.join("model.safetensors")).unwrap();
    std::fs::copy(
        fixtures().join(config_from).join("config.json"),
        dir.join("config.json"),
    )
    .unwrap();
}

#[test]
fn both_config_layouts_parse_to_the_same_config() {
    for d in ["tiny", "tiny_tied"] {
        let nested = Config::from_file(fixtures().join(d).join("config.json")).unwrap();
        let flat = Config::from_file(fixtures().join(d).join("config_flat.json")).unwrap();
        assert_eq!(nested, flat, "{d}");
        assert_eq!(nested.mrope_section, vec![2, 3, 3]);
        assert_eq!(nested.image_token_id, 1000);
        assert_eq!(nested.vision_config.fullatt_block_indexes, vec![1]);
        assert_eq!(nested.tie_word_embeddings, d == "tiny_tied");
        assert_eq!(nested.rope_theta, 1e6);
        assert_eq!(nested.eos_token_ids(), vec![1004]);
    }
}

#[test]
fn config_with_both_channel_keys_and_newer_rope_scaling() {
    let s = std::fs::read_to_string(fixtures().join("tiny/config_flat.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
    v["vision_config"]["in_channels"] = 3.into();
    v["rope_scaling"] =
        serde_json::json!({"rope_type": "default", "type": "default", "mrope_section": [2, 3, 3]});
    let c = Config::from_json_str(&v.to_string()).unwrap();
    assert_eq!(
        c,
        Config::from_file(fixtures().join("tiny/config.json")).unwrap()
    );
}

#[test]
fn flat_config_loads_the_same_model() {
    let cfg = Config::from_file(fixtures().join("tiny/config_flat.json")).unwrap();
    let m = Qwen25VL::load_with_config(fixtures().join("tiny"), &cfg, DType::F32, &Device::Cpu)
        .unwrap();
    let inp = inputs("text");
    let d = max_diff_masked(
        &m.forward(&inp).unwrap(),
        &get("text.logits"),
        &inp.attention_mask,
    );
    assert!(d <= 1e-4, "{d}");
}

#[test]
fn missing_config_field_is_named() {
    let s = std::fs::read_to_string(fixtures().join("tiny/config_flat.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
    v.as_object_mut().unwrap().remove("num_key_value_heads");
    let e = Config::from_json_str(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("num_key_value_heads"), "{e}");
    v["num_key_value_heads"] = 2.into();
    v["vision_config"]
        .as_object_mut()
        .unwrap()
        .remove("window_size");
    let e = Config::from_json_str(&v.to_string())
        .unwrap_err()
        .to_string();
    assert!(e.contains("window_size"), "{e}");
    let e = Config::from_file("/nonexistent/config.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/config.json"), "{e}");
}

#[test]
fn sharded_and_prefixed_checkpoints_load() {
    let ts = raw("tiny");
    let dir = tmpdir("sharded");
    let mut names: Vec<&String> = ts.keys().collect();
    names.sort();
    let mut map = serde_json::Map::new();
    let mut shards: [HashMap<String, Tensor>; 2] = [HashMap::new(), HashMap::new()];
    for (i, n) in names.iter().enumerate() {
        // transformers ≥ 4.52 key layout for the decoder.
        let stored = match n.strip_prefix("model.") {
            Some(rest) => format!("model.language_model.{rest}"),
            None => n.to_string(),
        };
        let f = format!("model-0000{}-of-00002.safetensors", i % 2 + 1);
        map.insert(stored.clone(), f.into());
        shards[i % 2].insert(stored, ts[*n].clone());
    }
    for (i, s) in shards.iter().enumerate() {
        candle_core::safetensors::save(
            s,
            dir.join(format!("model-0000{}-of-00002.safetensors", i + 1)),
        )
        .unwrap();
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    std::fs::copy(fixtures().join("tiny/config.json"), dir.join("config.json")).unwrap();
    let m = Qwen25VL::load(&dir, DType::F32, &Device::Cpu).unwrap();
    let inp = inputs("image");
    let d = max_diff_masked(
        &m.forward(&inp).unwrap(),
        &get("image.logits"),
        &inp.attention_mask,
    );
    assert!(d <= 1e-4, "{d}");
    // A shard listed in the index but absent is an error naming it.
    std::fs::remove_file(dir.join("model-00002-of-00002.safetensors")).unwrap();
    let e = Qwen25VL::load(&dir, DType::F32, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model-00002-of-00002.safetensors"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_extra_and_misshapen_tensors_are_named() {
    let dir = tmpdir("bad");
    let mut ts = raw("tiny");
    ts.remove("model.layers.1.self_attn.k_proj.bias");
    write_ckpt(&dir, &ts, "tiny");
    match Qwen25VL::load(&dir, DType::F32, &Device::Cpu) {
        Err(Error::MissingTensors { names, .. }) => {
            assert_eq!(
                names,
                vec!["model.layers.1.self_attn.k_proj.bias".to_string()]
            )
        }
        other => panic!("expected MissingTensors, got {other:?}"),
    }
    let mut ts = raw("tiny");
    ts.insert(
        "model.layers.0.extra.weight".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    write_ckpt(&dir, &ts, "tiny");
    match Qwen25VL::load(&dir, DType::F32, &Device::Cpu) {
        Err(Error::ExtraTensors { names, .. }) => {
            assert_eq!(names, vec!["model.layers.0.extra.weight".to_string()])
        }
        other => panic!("expected ExtraTensors, got {other:?}"),
    }
    let mut ts = raw("tiny");
    ts.insert(
        "model.norm.weight".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    write_ckpt(&dir, &ts, "tiny");
    match Qwen25VL::load(&dir, DType::F32, &Device::Cpu) {
        Err(Error::Shape { name, .. }) => assert_eq!(name, "model.norm.weight"),
        other => panic!("expected Shape, got {other:?}"),
    }
    // An untied config needs lm_head.weight: the tied checkpoint under the untied config fails.
    let ts = raw("tiny_tied");
    write_ckpt(&dir, &ts, "tiny");
    match Qwen25VL::load(&dir, DType::F32, &Device::Cpu) {
        Err(Error::MissingTensors { names, .. }) => {
            assert_eq!(names, vec!["lm_head.weight".to_string()])
        }
        other => panic!("expected MissingTensors, got {other:?}"),
    }
    // A tied checkpoint that carries a copy of lm_head.weight is accepted.
    let mut ts = raw("tiny_tied");
    let e = ts["model.embed_tokens.weight"].clone();
    ts.insert("lm_head.weight".into(), e);
    write_ckpt(&dir, &ts, "tiny_tied");
    Qwen25VL::load(&dir, DType::F32, &Device::Cpu).unwrap();
    let e = Qwen25VL::load("/nonexistent-ckpt", DType::F32, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent-ckpt"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bf16_checkpoint_and_bf16_compute() {
    let dir = tmpdir("bf16");
    let ts: HashMap<String, Tensor> = raw("tiny")
        .into_iter()
        .map(|(k, v)| (k, v.to_dtype(DType::BF16).unwrap()))
        .collect();
    write_ckpt(&dir, &ts, "tiny");
    let inp = inputs("image");
    let want = get("image.logits");
    // bf16 weights up-cast to f32: only the weights' rounding differs.
    let m = Qwen25VL::load(&dir, DType::F32, &Device::Cpu).unwrap();
    let d32 = max_diff_masked(&m.forward(&inp).unwrap(), &want, &inp.attention_mask);
    // Full bf16 compute.
    let m = Qwen25VL::load(&dir, DType::BF16, &Device::Cpu).unwrap();
    let l = m.forward(&inp).unwrap().to_dtype(DType::F32).unwrap();
    let d16 = max_diff_masked(&l, &want, &inp.attention_mask);
    eprintln!("bf16 weights: f32 compute {d32:.3e}, bf16 compute {d16:.3e}");
    // Generation runs in bf16 too (masks, rotary tables and cache in the model dtype).
    let g = lmmr1_model::generate::generate(
        &m,
        &inp,
        &lmmr1_model::generate::SamplingParams {
            max_new_tokens: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.tokens[0].len(), 4);
    assert!(d32 < 0.25 && d16 < 0.5, "{d32} {d16}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_are_errors() {
    let m = model("tiny");
    let mut inp = inputs("image");
    // One image token too many.
    let p = inp.input_ids.iter().position(|&t| t == 1000).unwrap();
    inp.input_ids[p - 1] = 1000;
    let e = m.forward(&inp).unwrap_err().to_string();
    assert!(e.contains("image tokens"), "{e}");
    // pixel_values rows that do not match the grid.
    let mut inp = inputs("image");
    inp.image_grid_thw[0][1] = 10;
    assert!(m.forward(&inp).is_err());
    // Token id out of range.
    let mut inp = inputs("text");
    inp.input_ids[0] = 5000;
    let e = m.forward(&inp).unwrap_err().to_string();
    assert!(e.contains("vocab_size"), "{e}");
    // Inconsistent ids / mask.
    assert!(lmmr1_model::model::Inputs::text(2, vec![1, 2, 3], vec![1, 1, 1]).is_err());
    assert!(lmmr1_model::model::Inputs::text(1, vec![1, 2, 3], vec![1, 1]).is_err());
}

#[test]
fn differentiable_ops_give_the_same_logits() {
    let mut m = model("tiny");
    m.mode = lmmr1_model::OpsMode::Differentiable;
    for case in ["text_leftpad", "image_multi"] {
        let inp = inputs(case);
        let d = max_diff_masked(
            &m.forward(&inp).unwrap(),
            &get(&format!("{case}.logits")),
            &inp.attention_mask,
        );
        assert!(d <= 1e-4, "{case}: {d}");
    }
}

/// The hub config of Qwen2.5-VL-3B-Instruct (candle-notes §5.3): it parses, and the tensor list
/// adds up to the model's 3.75B parameters.
#[test]
fn qwen25vl_3b_hub_config() {
    let j = r#"{
      "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
      "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
      "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
      "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 2048,
      "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 128000,
      "max_window_layers": 70, "num_attention_heads": 16, "num_hidden_layers": 36, "num_key_value_heads": 2,
      "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
      "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": true, "use_sliding_window": false,
      "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
        "num_heads": 16, "in_chans": 3, "out_hidden_size": 2048, "patch_size": 14, "spatial_merge_size": 2,
        "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2, "temporal_patch_size": 2},
      "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936
    }"#;
    let c = Config::from_json_str(j).unwrap();
    assert_eq!(
        (
            c.head_dim(),
            c.vision_config.head_dim(),
            c.vision_config.patch_dim()
        ),
        (128, 80, 1176)
    );
    assert_eq!(c.eos_token_ids(), vec![151645]);
    let n = lmmr1_model::weights::num_params(&c);
    assert!((3_740_000_000..3_760_000_000).contains(&n), "{n}");
}
