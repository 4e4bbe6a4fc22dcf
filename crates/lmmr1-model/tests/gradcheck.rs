//! Finite-difference check (f64, central differences) of the analytic gradient of the whole
//! tiny model, vision tower included, with a policy-gradient loss (random advantages, an entropy
//! bonus) on a batch of an image row and a left-padded text row: along a random direction over
//! all parameters, and at coordinates of every parameter tensor.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::*;
use lmmr1_model::model::Inputs;
use lmmr1_model::rng::Rng;
use lmmr1_model::{Policy, PolicyOptions};

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-5;

struct Case {
    policy: Policy,
    inp: Inputs,
    start: usize,
    adv: Tensor,
    mask: Tensor,
}

impl Case {
    fn new(name: &str, case: &str, start: usize, seed: u64) -> Self {
        let policy = Policy::from_dir(
            &fixtures().join(name),
            DType::F64,
            &Device::Cpu,
            &PolicyOptions::default(),
        )
        .unwrap();
        let inp = inputs(case);
        let adv = randn(
            &mut Rng::new(seed),
            &[inp.batch, inp.seq_len - start],
            DType::F64,
        );
        let mask = response_mask(&inp, start);
        Self {
            policy,
            inp,
            start,
            adv,
            mask,
        }
    }

    /// The loss at the current weights (no graph).
    fn loss(&self) -> f64 {
        let lp = self.policy.log_probs(&self.inp, self.start, true).unwrap();
        pg_loss(&lp, &self.adv, &self.mask, 0.1)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    /// The analytic gradient of every variable, flattened (zeros where the loss does not reach
    /// it: the vision tower for text-only inputs).
    fn grads(&self) -> Vec<(String, Var, Vec<f64>)> {
        let (_, g) = self
            .policy
            .forward_backward(&self.inp, self.start, true, |lp| {
                pg_loss(lp, &self.adv, &self.mask, 0.1)
            })
            .unwrap();
        self.policy
            .trainable_vars()
            .into_iter()
            .map(|(n, v)| {
                let gv = match g.get(v.as_tensor()) {
                    Some(g) => g.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                    None => {
                        assert!(n.starts_with("visual."), "no gradient for {n}");
                        vec![0.0; v.elem_count()]
                    }
                };
                (n, v, gv)
            })
            .collect()
    }

    /// Central difference of the loss along `dir` (one flat vector per variable).
    fn directional_fd(&self, vars: &[(String, Var, Vec<f64>)], dir: &[Vec<f64>]) -> f64 {
        let orig: Vec<Tensor> = vars
            .iter()
            .map(|(_, v, _)| v.as_tensor().copy().unwrap())
            .collect();
        let shift = |s: f64| {
            for ((_, v, _), (o, d)) in vars.iter().zip(orig.iter().zip(dir)) {
                let d = Tensor::from_slice(d, o.dims(), &Device::Cpu).unwrap();
                v.set(&(o + (d * s).unwrap()).unwrap()).unwrap();
            }
        };
        shift(EPS);
        let up = self.loss();
        shift(-EPS);
        let down = self.loss();
        for ((_, v, _), o) in vars.iter().zip(&orig) {
            v.set(o).unwrap();
        }
        (up - down) / (2.0 * EPS)
    }

    /// Central difference of the loss in coordinate `i` of `v`.
    fn coordinate_fd(&self, v: &Var, i: usize) -> f64 {
        let orig = v.as_tensor().copy().unwrap();
        let mut flat = orig.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let x = flat[i];
        let mut at = |val: f64| {
            flat[i] = val;
            v.set(&Tensor::from_slice(&flat, orig.dims(), &Device::Cpu).unwrap())
                .unwrap();
            self.loss()
        };
        let (up, down) = (at(x + EPS), at(x - EPS));
        v.set(&orig).unwrap();
        (up - down) / (2.0 * EPS)
    }
}

/// Directional derivative along a random direction over all parameters vs `⟨g, v⟩`.
fn check_direction(c: &Case, seed: u64) -> f64 {
    let vars = c.grads();
    let mut rng = Rng::new(seed);
    let dir: Vec<Vec<f64>> = vars
        .iter()
        .map(|(_, _, g)| randn_vec(&mut rng, g.len()))
        .collect();
    let analytic: f64 = vars
        .iter()
        .zip(&dir)
        .map(|((_, _, g), d)| g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>())
        .sum();
    let fd = c.directional_fd(&vars, &dir);
    let rel = (fd - analytic).abs() / analytic.abs();
    eprintln!("directional: analytic {analytic:.9e}, fd {fd:.9e}, rel {rel:.1e}");
    assert!(
        rel <= TOL,
        "directional derivative: analytic {analytic}, fd {fd}"
    );
    rel
}

#[test]
fn whole_model_gradient_matches_finite_differences() {
    // Row 0: text, an image (4 merged tokens), text; row 1: text, left-padded by 6.
    let c = Case::new("tiny", "image_batch", 2, 11);
    check_direction(&c, 12);
    // Coordinates: the largest |g| of every tensor and two random ones (inside the used rows of
    // the embeddings: the others have an exact zero gradient).
    let vars = c.grads();
    let mut rng = Rng::new(13);
    let used: Vec<usize> = c.inp.input_ids.iter().map(|&t| t as usize).collect();
    let (mut worst, mut checked) = (0f64, 0);
    for (name, v, g) in &vars {
        let argmax = (0..g.len())
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        let gmax = g[argmax].abs();
        assert!(gmax > 0.0, "{name}: zero gradient");
        let mut coords = vec![argmax];
        for _ in 0..2 {
            let i = if name == "model.embed_tokens.weight" {
                let row = used[(rng.next_u64() % used.len() as u64) as usize];
                let h = v.dim(1).unwrap();
                row * h + (rng.next_u64() % h as u64) as usize
            } else {
                (rng.next_u64() % g.len() as u64) as usize
            };
            coords.push(i);
        }
        for i in coords {
            let fd = c.coordinate_fd(v, i);
            // Relative, with a floor of 1e-3 (the loss is O(1)): the central difference's
            // rounding noise, ~|L|·1e-16/EPS = 1e-10, is then far below the tolerance.
            let err = (fd - g[i]).abs() / g[i].abs().max(1e-3);
            assert!(
                err <= TOL,
                "{name}[{i}]: analytic {}, fd {fd} (rel {err:.1e})",
                g[i]
            );
            worst = worst.max(err);
            checked += 1;
        }
    }
    eprintln!(
        "{checked} coordinates of {} tensors: max relative error {worst:.1e}",
        vars.len()
    );
}

#[test]
fn text_gradients_match_finite_differences() {
    // Left-padded text batch; and the tied checkpoint, where the head and the lookup share the
    // embedding variable.
    check_direction(&Case::new("tiny", "text_leftpad", 3, 21), 22);
    check_direction(&Case::new("tiny_tied", "tied_text", 1, 31), 32);
}
