//! The decoder's KV cache for generation: per layer, keys and values written in place
//! (`slice_set`; inference only) into buffers that grow geometrically up to a limit, and read
//! where they are (no copy per decoding step).
//!
//! The keys are stored in the layout the attention kernel of the device reads:
//! * [`KeyLayout::Transposed`] `(B, n_kv, head_dim, capacity)` for the native CPU kernel,
//!   whose score loop runs over contiguous key positions;
//! * [`KeyLayout::Natural`] `(B, n_kv, capacity, head_dim)` for the portable path (CUDA): the
//!   first `len` positions are then a view whose `kᵀ` candle's CUDA GEMM accepts as it is
//!   (strides `(…, 1, head_dim)`, a transposed contiguous matrix; see
//!   [`crate::kernels::layout`]). The transposed buffer, narrowed, would not be: its row stride
//!   is the capacity, not the length.
//!
//! The values are `(B, n_kv, capacity, head_dim)` in both.

use candle_core::Tensor;

/// How a layer's cache stores its keys (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// `(B, n_kv, head_dim, capacity)`: the native CPU attention kernel's layout.
    Transposed,
    /// `(B, n_kv, capacity, head_dim)`: the portable (CUDA) layout.
    Natural,
}

/// Keys and values of one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    kv: Option<(Tensor, Tensor, KeyLayout)>,
    len: usize,
    limit: usize,
}

/// A layer's cache after [`LayerCache::append`]: the buffers and the number of valid positions.
#[derive(Debug, Clone)]
pub struct CachedKv {
    /// The key buffer, in `layout`.
    pub k: Tensor,
    /// The values, `(B, n_kv, capacity, head_dim)`.
    pub v: Tensor,
    /// Valid positions (the first `len` of the capacity).
    pub len: usize,
    /// How `k` is stored.
    pub layout: KeyLayout,
}

impl CachedKv {
    /// The keys `(B, n_kv, len, head_dim)` (a view).
    pub fn keys(&self) -> candle_core::Result<Tensor> {
        match self.layout {
            KeyLayout::Natural => self.k.narrow(2, 0, self.len),
            KeyLayout::Transposed => self.k.narrow(3, 0, self.len)?.transpose(2, 3),
        }
    }
    /// The values `(B, n_kv, len, head_dim)` (a view).
    pub fn values(&self) -> candle_core::Result<Tensor> {
        self.v.narrow(2, 0, self.len)
    }
}

/// Positions a new buffer holds at least beyond what it must: the first decoding steps after
/// a prefill do not reallocate.
const MIN_HEADROOM: usize = 32;

impl LayerCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Positions the buffers hold now (0 before the first append).
    pub fn capacity(&self) -> usize {
        self.kv.as_ref().map_or(0, |(_, v, _)| v.dims()[2])
    }

    /// The capacity of a buffer that must hold `needed` positions, from `cap`: doubling (so
    /// that a long generation copies the cache O(log n) times, not every step), at least
    /// [`MIN_HEADROOM`] spare, never above the limit (when set) unless `needed` is.
    fn grown(&self, cap: usize, needed: usize) -> usize {
        let want = (2 * cap).max(needed + MIN_HEADROOM);
        match self.limit {
            0 => want,
            limit => want.min(limit).max(needed),
        }
    }

    /// Appends `k`, `v` `(B, n_kv, T, hd)` and returns the cache with them.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> candle_core::Result<CachedKv> {
        let (b, h, t, d) = k.dims4()?;
        let cap = self.capacity();
        if self.len + t > cap {
            let layout = match &self.kv {
                Some((_, _, l)) => *l,
                None if crate::kernels::native_f32(&[k]) => KeyLayout::Transposed,
                None => KeyLayout::Natural,
            };
            let new_cap = self.grown(cap, self.len + t);
            let kshape = match layout {
                KeyLayout::Transposed => (b, h, d, new_cap),
                KeyLayout::Natural => (b, h, new_cap, d),
            };
            let nk = Tensor::zeros(kshape, k.dtype(), k.device())?;
            let nv = Tensor::zeros((b, h, new_cap, d), v.dtype(), v.device())?;
            if let Some((ok, ov, _)) = &self.kv {
                let kdim = if layout == KeyLayout::Transposed {
                    3
                } else {
                    2
                };
                nk.slice_set(&ok.narrow(kdim, 0, self.len)?.contiguous()?, kdim, 0)?;
                nv.slice_set(&ov.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            self.kv = Some((nk, nv, layout));
        }
        let (ck, cv, layout) = self.kv.as_ref().expect("allocated above");
        match layout {
            KeyLayout::Transposed => {
                ck.slice_set(&k.transpose(2, 3)?.contiguous()?, 3, self.len)?
            }
            KeyLayout::Natural => ck.slice_set(&k.contiguous()?, 2, self.len)?,
        }
        cv.slice_set(&v.contiguous()?, 2, self.len)?;
        self.len += t;
        Ok(CachedKv {
            k: ck.clone(),
            v: cv.clone(),
            len: self.len,
            layout: *layout,
        })
    }
}

/// The decoder's KV cache: one [`LayerCache`] per layer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// Per-layer caches.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for `n` layers whose buffers grow without limit.
    pub fn new(n: usize) -> Self {
        KvCache {
            layers: vec![LayerCache::default(); n],
        }
    }
    /// An empty cache for `n` layers whose buffers grow (doubling) as positions are appended,
    /// never beyond `max_positions` (prompt + new tokens): memory follows the tokens actually
    /// generated, and is bounded by the worst case.
    pub fn with_limit(n: usize, max_positions: usize) -> Self {
        KvCache {
            layers: vec![
                LayerCache {
                    limit: max_positions,
                    ..LayerCache::default()
                };
                n
            ],
        }
    }
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().map(|l| l.len()).unwrap_or(0)
    }
    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Positions the buffers hold now.
    pub fn capacity(&self) -> usize {
        self.layers.first().map(|l| l.capacity()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn step(c: &mut LayerCache, t: usize, fill: f32) -> CachedKv {
        let k =
            (Tensor::ones((1, 2, t, 4), DType::F32, &Device::Cpu).unwrap() * fill as f64).unwrap();
        c.append(&k, &(&k + 1.0).unwrap()).unwrap()
    }

    #[test]
    fn grows_doubling_up_to_the_limit_and_keeps_the_contents() {
        let mut c = LayerCache {
            limit: 100,
            ..LayerCache::default()
        };
        let kv = step(&mut c, 20, 1.0);
        assert_eq!(c.capacity(), 20 + MIN_HEADROOM);
        for i in 0..60 {
            step(&mut c, 1, 2.0 + i as f32);
        }
        assert_eq!(c.len(), 80);
        assert_eq!(c.capacity(), 100, "doubled to 104, capped at the limit");
        let kv2 = step(&mut c, 1, 0.0);
        let keys = kv2.keys().unwrap();
        assert_eq!(keys.dims(), [1, 2, 81, 4]);
        // The first 20 positions survived both reallocations.
        let first = keys.narrow(2, 0, 20).unwrap().flatten_all().unwrap();
        assert!(first.to_vec1::<f32>().unwrap().iter().all(|&x| x == 1.0));
        let v = kv2.values().unwrap().narrow(2, 20, 1).unwrap();
        assert!(v
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .all(|&x| x == 3.0));
        assert_eq!(kv.layout, kv2.layout);
    }

    #[test]
    fn layout_follows_the_kernels() {
        crate::kernels::KernelSettings::default().scope(|| {
            let mut native = LayerCache::default();
            assert_eq!(step(&mut native, 3, 1.0).layout, KeyLayout::Transposed);
        });
        let portable = crate::kernels::KernelSettings {
            portable: true,
            check_gpu_layout: true,
        };
        portable.scope(|| {
            let mut c = LayerCache::default();
            let kv = step(&mut c, 3, 1.0);
            assert_eq!(kv.layout, KeyLayout::Natural);
            // q·kᵀ and p·v on the cache views pass candle's CUDA GEMM rule.
            let q = Tensor::zeros((1, 2, 1, 4), DType::F32, &Device::Cpu).unwrap();
            let p = Tensor::zeros((1, 2, 1, 3), DType::F32, &Device::Cpu).unwrap();
            crate::kernels::matmul(&q, &kv.keys().unwrap().t().unwrap(), "scores").unwrap();
            crate::kernels::matmul(&p, &kv.values().unwrap(), "values").unwrap();
        });
    }
}
