//! A value computed with ordinary tensor ops (on any device), given a hand-written backward.
//!
//! candle 0.11.1 records a backward only through its own ops or a custom op, and a custom op's
//! forward works on raw storages, one implementation per backend. To run a composed forward on
//! any device and still choose what the backward computes (and keeps alive), the value is
//! computed first, without a graph, and then attached to its arguments through a custom op
//! whose forward, on every backend, hands back a copy of that value: the graph holds the
//! arguments and the [`Backward`], not the forward's intermediates.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CudaStorage, CustomOp3, Layout, Shape, Storage, Tensor};

use super::poisoned;

/// The backward of a [`with_backward`] node.
pub trait Backward: Send + Sync {
    /// The gradients of the three arguments (`None` for an untracked one) from the gradient
    /// `grad` of the node's output.
    fn backward(
        &self,
        args: [&Tensor; 3],
        grad: &Tensor,
    ) -> candle_core::Result<[Option<Tensor>; 3]>;
}

struct Node<B> {
    name: &'static str,
    /// The precomputed output, taken by the forward.
    value: Mutex<Option<Tensor>>,
    bwd: B,
}

impl<B> Node<B> {
    /// The precomputed value's storage (a copy: contiguous, from offset 0) and shape.
    fn take(&self) -> candle_core::Result<(Storage, Shape)> {
        let value = self
            .value
            .lock()
            .map_err(|_| poisoned(self.name))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg(format!("{}: forward ran twice", self.name)))?;
        let (s, l) = value.storage_and_layout();
        Ok((s.try_clone(l)?, l.shape().clone()))
    }
}

impl<B: Backward> CustomOp3 for Node<B> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        match self.take()? {
            (Storage::Cpu(s), shape) => Ok((s, shape)),
            _ => candle_core::bail!("{}: value and arguments on different devices", self.name),
        }
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        match self.take()? {
            (Storage::Cuda(s), shape) => Ok((s, shape)),
            _ => candle_core::bail!("{}: value and arguments on different devices", self.name),
        }
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        a3: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let [g1, g2, g3] = self.bwd.backward([a1, a2, a3], grad)?;
        Ok((g1, g2, g3))
    }
}

/// `value` (computed by the caller from `args`, without a graph) as the output of a node over
/// `args` whose backward is `bwd`. When no argument is tracked, `value` itself (no node).
pub fn with_backward<B: Backward + 'static>(
    name: &'static str,
    value: Tensor,
    args: [&Tensor; 3],
    bwd: B,
) -> candle_core::Result<Tensor> {
    if !args.iter().any(|a| a.track_op()) {
        return Ok(value);
    }
    // A fresh storage holding exactly the value (a CPU storage is cloned whole).
    let value = value.detach().copy()?;
    let node = Node {
        name,
        value: Mutex::new(Some(value)),
        bwd,
    };
    args[0].apply_op3_arc(args[1], args[2], Arc::new(Box::new(node)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// `y = a·b` elementwise, backward written by hand; `c` is an untracked extra argument.
    struct Mul;
    impl Backward for Mul {
        fn backward(
            &self,
            [a, b, _]: [&Tensor; 3],
            g: &Tensor,
        ) -> candle_core::Result<[Option<Tensor>; 3]> {
            Ok([
                a.track_op().then(|| g * b.detach()).transpose()?,
                b.track_op().then(|| g * a.detach()).transpose()?,
                None,
            ])
        }
    }

    #[test]
    fn the_value_flows_forward_and_the_hand_written_gradient_backward() {
        let dev = Device::Cpu;
        let a = Var::new(&[1f32, 2., 3.], &dev).unwrap();
        let b = Var::new(&[4f32, 5., 6.], &dev).unwrap();
        let c = Tensor::zeros(3, DType::U32, &dev).unwrap();
        let value = (a.as_tensor().detach() * b.as_tensor().detach()).unwrap();
        let y = with_backward("mul", value, [a.as_tensor(), b.as_tensor(), &c], Mul).unwrap();
        assert_eq!(y.to_vec1::<f32>().unwrap(), [4., 10., 18.]);
        let grads = (y * 2.0).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(
            grads.get(&a).unwrap().to_vec1::<f32>().unwrap(),
            [8., 10., 12.]
        );
        assert_eq!(
            grads.get(&b).unwrap().to_vec1::<f32>().unwrap(),
            [2., 4., 6.]
        );
    }
}
