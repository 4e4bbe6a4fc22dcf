//! Image + chat prompt → processor → tokenizer → model → sampled answer, with the tiny fixtures
//! (the tiny tokenizer's special ids equal the tiny model's: `<|image_pad|>` 1000, `<|im_end|>` 1004).

mod common;

use candle_core::Device;
use common::*;
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::model::Inputs;
use lmmr1_model::processor::{ImageProcessor, RgbImage};
use lmmr1_model::tokenizer::{Content, Message, Tokenizer};

#[test]
fn chat_with_an_image_generates() {
    let m = model("tiny");
    let tok = Tokenizer::from_file(fixtures().join("tokenizer/tokenizer.json")).unwrap();
    let t = get("images.img84x112.uint8_hwc");
    let (h, w, _) = t.dims3().unwrap();
    let img = RgbImage::new(h, w, t.flatten_all().unwrap().to_vec1::<u8>().unwrap()).unwrap();
    let imgs = ImageProcessor::default()
        .preprocess(&[img], &Device::Cpu)
        .unwrap();
    let msgs = [Message {
        role: "user".into(),
        content: vec![Content::Image, Content::Text("What is 12+30?".into())],
    }];
    let ids = tok
        .encode_chat(&msgs, &imgs.tokens_per_image(2), true)
        .unwrap();
    assert_eq!(ids.iter().filter(|&&t| t == 1000).count(), 12);
    // Two rows: the image prompt and a shorter text prompt, left-padded.
    let text = tok
        .encode_chat(&[Message::text("user", "Hi")], &[], true)
        .unwrap();
    let t_len = ids.len();
    let mut all = ids.clone();
    let mut mask = vec![1u32; t_len];
    all.extend(std::iter::repeat_n(1005, t_len - text.len()).chain(text.iter().copied()));
    mask.extend(
        std::iter::repeat_n(0, t_len - text.len()).chain(std::iter::repeat_n(1, text.len())),
    );
    let inp = Inputs::new(2, all, mask, Some(imgs.pixel_values), imgs.image_grid_thw).unwrap();
    let p = SamplingParams {
        temperature: 0.8,
        top_p: 0.95,
        top_k: 0,
        seed: 3,
        max_new_tokens: 10,
        stop_tokens: vec![1004],
        pad_token: 1005,
        suppress_tokens: Vec::new(),
    };
    let out = generate(&m, &inp, &p).unwrap();
    for r in 0..2 {
        assert!(!out.tokens[r].is_empty() && out.tokens[r].len() <= 10);
        assert_eq!(out.tokens[r].len(), out.logprobs[r].len());
        assert_eq!(out.stopped[r], out.tokens[r].last() == Some(&1004));
        tok.decode(&out.tokens[r], true).unwrap();
    }
}
