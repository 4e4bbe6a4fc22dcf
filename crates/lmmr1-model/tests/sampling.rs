//! The two token samplers (host and device ops): sampled frequencies against the exact
//! tempered, top-k / top-p filtered softmax (chi-square), greedy choices, agreement draw for
//! draw, seeds.

use candle_core::{Device, Tensor};
use lmmr1_model::generate::SamplingParams;
use lmmr1_model::rng::Rng;
use lmmr1_model::sampling::{DeviceSampler, HostSampler};

/// The distribution the samplers must draw from: `softmax((logits + bias)/T)` over the
/// `top_k` largest, then the smallest most-likely prefix reaching `top_p`, renormalised
/// (ties broken by the lower id), computed in f64.
fn exact(logits: &[f32], p: &SamplingParams) -> Vec<f64> {
    let mut z: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let l = if p.suppress_tokens.contains(&(i as u32)) {
                f64::NEG_INFINITY
            } else {
                l as f64
            };
            (i, l / p.temperature)
        })
        .collect();
    z.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if p.top_k > 0 {
        z.truncate(p.top_k);
    }
    let m = z[0].1;
    let mut w: Vec<f64> = z.iter().map(|c| (c.1 - m).exp()).collect();
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    if p.top_p < 1.0 {
        let (mut acc, mut keep) = (0.0, w.len());
        for (i, &q) in w.iter().enumerate() {
            acc += q;
            if acc >= p.top_p {
                keep = i + 1;
                break;
            }
        }
        w.truncate(keep);
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= s);
    }
    let mut out = vec![0.0; logits.len()];
    for (c, q) in z.iter().zip(w) {
        out[c.0] = q;
    }
    out
}

/// The chi-square critical value at significance 0.001 (Wilson–Hilferty).
fn chi2_critical(df: usize) -> f64 {
    let d = df as f64;
    let z = 3.09;
    d * (1.0 - 2.0 / (9.0 * d) + z * (2.0 / (9.0 * d)).sqrt()).powi(3)
}

fn logits_row(v: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..v).map(|_| (rng.uniform() * 6.0 - 3.0) as f32).collect()
}

type Sample = dyn Fn(&Tensor, &[Option<f64>]) -> Vec<Option<(u32, f32)>>;

/// Draws `rows × rounds` tokens from one row of logits repeated.
fn counts(logits: &[f32], rows: usize, rounds: usize, sample: &Sample, seed: u64) -> Vec<usize> {
    let v = logits.len();
    let batch: Vec<f32> = (0..rows).flat_map(|_| logits.iter().copied()).collect();
    let t = Tensor::from_vec(batch, (rows, v), &Device::Cpu).unwrap();
    let mut rng = Rng::new(seed);
    let mut c = vec![0usize; v];
    for _ in 0..rounds {
        let draws: Vec<Option<f64>> = (0..rows).map(|_| Some(rng.uniform())).collect();
        for (tok, _) in sample(&t, &draws).into_iter().flatten() {
            c[tok as usize] += 1;
        }
    }
    c
}

fn settings() -> Vec<SamplingParams> {
    let base = SamplingParams {
        temperature: 1.0,
        ..SamplingParams::default()
    };
    vec![
        base.clone(),
        SamplingParams {
            temperature: 0.7,
            suppress_tokens: vec![0, 5, 17],
            ..base.clone()
        },
        SamplingParams {
            top_k: 8,
            ..base.clone()
        },
        SamplingParams {
            top_p: 0.6,
            temperature: 1.3,
            ..base.clone()
        },
        SamplingParams {
            top_k: 12,
            top_p: 0.8,
            suppress_tokens: vec![3],
            ..base
        },
    ]
}

#[test]
fn sampled_frequencies_match_the_filtered_softmax() {
    let logits = logits_row(40, 1);
    for (i, p) in settings().into_iter().enumerate() {
        let want = exact(&logits, &p);
        let dev = DeviceSampler::new(&p, logits.len(), &Device::Cpu).unwrap();
        let host = HostSampler::new(&p);
        let samplers: [(&str, Box<Sample>); 2] = [
            ("device", Box::new(move |t, d| dev.sample(t, d).unwrap())),
            ("host", Box::new(move |t, d| host.sample(t, d).unwrap())),
        ];
        for (name, sample) in &samplers {
            let n = 500 * 40;
            let c = counts(&logits, 500, 40, sample.as_ref(), 10 + i as u64);
            let (mut chi2, mut df) = (0.0, 0usize);
            for (tok, (&got, &q)) in c.iter().zip(&want).enumerate() {
                if q == 0.0 {
                    assert_eq!(
                        got, 0,
                        "{name}, setting {i}: token {tok} is outside the support"
                    );
                    continue;
                }
                let e = q * n as f64;
                chi2 += (got as f64 - e).powi(2) / e;
                df += 1;
            }
            let crit = chi2_critical(df - 1);
            eprintln!(
                "{name}, setting {i}: chi2 {chi2:.1} over {} dof (critical {crit:.1})",
                df - 1
            );
            assert!(chi2 < crit, "{name}, setting {i}: chi2 {chi2} ≥ {crit}");
        }
    }
}

/// With the same uniform numbers the two samplers choose the same tokens, and report the same
/// log-probabilities (of the unmodified distribution).
#[test]
fn host_and_device_samplers_agree_draw_for_draw() {
    let v = 300;
    let rows = 64;
    let mut all = Vec::new();
    for r in 0..rows {
        all.extend(logits_row(v, 100 + r as u64));
    }
    let t = Tensor::from_vec(all, (rows, v), &Device::Cpu).unwrap();
    let mut rng = Rng::new(9);
    let (mut same, mut total) = (0usize, 0usize);
    let greedy = SamplingParams {
        suppress_tokens: vec![7, 8],
        ..SamplingParams::default()
    };
    for p in settings().into_iter().chain([greedy]) {
        let dev = DeviceSampler::new(&p, v, &Device::Cpu).unwrap();
        let host = HostSampler::new(&p);
        for _ in 0..20 {
            let draws: Vec<Option<f64>> = (0..rows)
                .map(|r| (r % 5 != 4).then(|| rng.uniform()))
                .collect();
            let a = dev.sample(&t, &draws).unwrap();
            let b = host.sample(&t, &draws).unwrap();
            for (x, y) in a.iter().zip(&b) {
                match (x, y) {
                    (None, None) => {}
                    (Some((tx, lx)), Some((ty, ly))) => {
                        total += 1;
                        if tx == ty {
                            same += 1;
                            assert!((lx - ly).abs() < 1e-4, "log-probs {lx} vs {ly}");
                        }
                    }
                    _ => panic!("a row was sampled by one sampler only"),
                }
            }
        }
    }
    // The two differ only where a uniform number falls within float rounding of a boundary
    // between two tokens' cumulative masses.
    eprintln!("{same} of {total} draws equal");
    assert!(
        total >= 6000 && same * 1000 >= total * 999,
        "{same} of {total}"
    );
}

#[test]
fn greedy_takes_the_first_maximum_on_both() {
    let p = SamplingParams::default();
    let row = [0.5f32, 2.0, -1.0, 2.0, 1.0];
    let t = Tensor::new(&[row], &Device::Cpu).unwrap();
    let d = DeviceSampler::new(&p, 5, &Device::Cpu)
        .unwrap()
        .sample(&t, &[Some(0.0)])
        .unwrap();
    let h = HostSampler::new(&p).sample(&t, &[Some(0.0)]).unwrap();
    assert_eq!(d[0].unwrap().0, 1);
    assert_eq!(h[0].unwrap().0, 1);
}
