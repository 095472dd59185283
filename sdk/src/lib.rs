//! Write [sqrtspace](https://github.com/sqrtspace/sqrtspace) stages in Rust and compile them to
//! sandboxed Wasm components.
//!
//! A **stage** is one function from a [`Block`] of windows (and its parameters) to output rows,
//! plus one export line:
//!
//! ```
//! use sqrtspace_sdk::ndarray::Array2;
//! use sqrtspace_sdk::{Block, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Params { gain: f32 }
//!
//! /// Every element times `gain`.
//! fn scale(block: &Block, params: &Params) -> Result<Array2<f32>, Error> {
//!     Ok(block.f32(0)?.mapv(|v| v * params.gain))
//! }
//!
//! sqrtspace_sdk::export_stage!(scale, name = "scale", version = "0.1.0");
//! ```
//!
//! A **kernel** carries state from block to block; the state is a serde type that the host
//! stores as bytes in its checkpoints:
//!
//! ```
//! use sqrtspace_sdk::ndarray::Array2;
//! use sqrtspace_sdk::{Block, Config, Error, Kernel, NoParams};
//!
//! /// Running sum of every element over time.
//! struct Cumulative;
//!
//! impl Kernel for Cumulative {
//!     type Params = NoParams;
//!     type State = Vec<f32>;
//!     type Output = Array2<f32>;
//!     fn init(_: &NoParams, config: &Config) -> Result<Vec<f32>, Error> {
//!         Ok(vec![0.0; config.inputs[0].row_len()])
//!     }
//!     fn step(block: &Block, _: &NoParams, sums: &mut Vec<f32>) -> Result<Array2<f32>, Error> {
//!         let mut out = block.f32(0)?.to_owned();
//!         for mut row in out.rows_mut() {
//!             for (v, s) in row.iter_mut().zip(sums.iter_mut()) {
//!                 *s += *v;
//!                 *v = *s;
//!             }
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! sqrtspace_sdk::export_kernel!(Cumulative, name = "cumulative", version = "0.1.0");
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` and
//! `linker = "wasm-component-ld"` for that target (the sqrtspace workspace's
//! `.cargo/config.toml` sets it): the result is a component that imports nothing.
//!
//! Parameters come from the pipeline file (`Plugin(path: "...", params: (gain: 2.0))`) and are
//! read with serde from their RON text; use [`NoParams`] when there are none. At configuration the host tells the
//! stage its inputs' layouts and the stage says what it outputs: the function is called once
//! on a block of zero rows, so it must work on empty input (row-by-row code does).

#![deny(missing_docs)]

use std::cell::RefCell;

pub use ndarray;
use ndarray::{Array1, Array2, ArrayView2};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "::sqrtspace_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

use bindings::exports::sqrtspace::pipeline::stage as wit;

/// Why a stage refused a block or its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Parameters missing, malformed or out of range.
    Params(String),
    /// An input has the wrong number, type or shape.
    Input(String),
    /// A kernel state cannot be used.
    State(String),
    /// Anything else.
    Failed(String),
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> wit::Error {
        match e {
            Error::Params(m) => wit::Error::Params(m),
            Error::Input(m) => wit::Error::Input(m),
            Error::State(m) => wit::Error::State(m),
            Error::Failed(m) => wit::Error::Failed(m),
        }
    }
}

/// Parameters of a stage that takes none (`()`, or nothing at all, in the pipeline).
#[derive(Debug, Default, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Element types.
pub use wit::Dtype;

/// A spectrum's frequency axis: element `i` is at `first_hz + i * step_hz`.
pub use wit::FrequencyAxis;

/// The element type, row shape and meaning of an input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Element type.
    pub dtype: Dtype,
    /// Shape of one row.
    pub row_shape: Vec<usize>,
    /// Set when rows are spectra.
    pub frequency: Option<FrequencyAxis>,
}

impl Layout {
    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.row_shape.iter().product()
    }

    fn from_wit(layout: wit::Layout) -> Layout {
        Layout {
            dtype: layout.dtype,
            row_shape: layout.row_shape.iter().map(|&d| d as usize).collect(),
            frequency: layout.frequency,
        }
    }

    fn to_wit(&self) -> wit::Layout {
        wit::Layout {
            dtype: self.dtype,
            row_shape: self.row_shape.iter().map(|&d| d as u32).collect(),
            frequency: self.frequency,
        }
    }
}

/// What a stage is configured against: its inputs' layouts and the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The inputs' layouts, in the order the pipeline lists them.
    pub inputs: Vec<Layout>,
    /// Samples per second of the input signal (0 for an input of lines).
    pub sample_rate: f64,
    /// Samples (or lines) per window.
    pub window: usize,
    /// Samples (or lines) between window starts.
    pub hop: usize,
}

impl Config {
    /// Windows (rows) per second.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate / self.hop as f64
    }
}

/// One block of windows: the inputs' rows (context rows first) and where the block is.
#[derive(Debug)]
pub struct Block {
    /// Window index of the first output row.
    pub t0: u64,
    /// Output rows to produce.
    pub rows: usize,
    /// Leading rows of every input that come before `t0`.
    pub context_rows: usize,
    inputs: Vec<wit::Tensor>,
    config: std::rc::Rc<Config>,
}

impl Block {
    /// The configuration: inputs' layouts and the stream.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The layout of input `index`.
    pub fn layout(&self, index: usize) -> Option<&Layout> {
        self.config.inputs.get(index)
    }

    /// The frequency axis of input `index`, if it is a spectrum.
    pub fn frequency(&self, index: usize) -> Option<FrequencyAxis> {
        self.layout(index).and_then(|l| l.frequency)
    }

    fn input(&self, index: usize) -> Result<&wit::Tensor, Error> {
        self.inputs.get(index).ok_or_else(|| {
            Error::Input(format!(
                "input {index} is missing ({} given)",
                self.inputs.len()
            ))
        })
    }

    fn view<'a, T>(&'a self, index: usize, values: &'a [T]) -> Result<ArrayView2<'a, T>, Error> {
        let tensor = self.input(index)?;
        let rows = tensor.shape.first().copied().unwrap_or(0) as usize;
        let row_len: usize = tensor.shape.iter().skip(1).map(|&d| d as usize).product();
        ArrayView2::from_shape((rows, row_len), values).map_err(|e| {
            Error::Input(format!(
                "input {index}: shape {:?} does not fit its data: {e}",
                tensor.shape
            ))
        })
    }

    /// Input `index` as rows of f32: `(context_rows + rows) x row length`.
    pub fn f32(&self, index: usize) -> Result<ArrayView2<'_, f32>, Error> {
        match &self.input(index)?.data {
            wit::Data::F32(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not f32"))),
        }
    }

    /// Input `index` as rows of f64.
    pub fn f64(&self, index: usize) -> Result<ArrayView2<'_, f64>, Error> {
        match &self.input(index)?.data {
            wit::Data::F64(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not f64"))),
        }
    }

    /// Input `index` as rows of complex numbers, each as two f32 (real, imaginary):
    /// `rows x (2 * row length)`.
    pub fn c32_interleaved(&self, index: usize) -> Result<ArrayView2<'_, f32>, Error> {
        match &self.input(index)?.data {
            wit::Data::C32(values) => {
                let tensor = self.input(index)?;
                let rows = tensor.shape.first().copied().unwrap_or(0) as usize;
                ArrayView2::from_shape((rows, values.len() / rows.max(1)), values)
                    .map_err(|e| Error::Input(format!("input {index}: {e}")))
            }
            _ => Err(Error::Input(format!("input {index} is not c32"))),
        }
    }

    /// Input `index` as rows of i32.
    pub fn i32(&self, index: usize) -> Result<ArrayView2<'_, i32>, Error> {
        match &self.input(index)?.data {
            wit::Data::S32(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not i32"))),
        }
    }

    /// Input `index` as rows of text: `(context_rows + rows) x row length` strings (a log
    /// pipeline's input rows are its windows of lines).
    pub fn text(&self, index: usize) -> Result<ArrayView2<'_, String>, Error> {
        match &self.input(index)?.data {
            wit::Data::Text(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not text"))),
        }
    }

    /// Input `index` as rows of bytes.
    pub fn u8(&self, index: usize) -> Result<ArrayView2<'_, u8>, Error> {
        match &self.input(index)?.data {
            wit::Data::U8(values) => self.view(index, values),
            _ => Err(Error::Input(format!("input {index} is not u8"))),
        }
    }
}

/// What a stage can return: rows of a known element type.
pub trait Output {
    /// The tensor the host receives (`shape[0]` is the row count).
    fn into_tensor(self) -> wit::Tensor;
}

macro_rules! output {
    ($ty:ty, $variant:ident) => {
        impl Output for Array2<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = vec![self.nrows() as u32, self.ncols() as u32];
                let values = if self.is_standard_layout() {
                    self.into_raw_vec_and_offset().0
                } else {
                    self.iter().cloned().collect()
                };
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant(values),
                }
            }
        }

        /// Rows of any shape: the first axis is the rows, the others the shape of one row.
        impl Output for ndarray::ArrayD<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = self.shape().iter().map(|&d| d as u32).collect();
                let values = if self.is_standard_layout() {
                    self.into_raw_vec_and_offset().0
                } else {
                    self.iter().cloned().collect()
                };
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant(values),
                }
            }
        }

        /// One value per row.
        impl Output for Array1<$ty> {
            fn into_tensor(self) -> wit::Tensor {
                let shape = vec![self.len() as u32];
                wit::Tensor {
                    shape,
                    data: wit::Data::$variant(self.to_vec()),
                }
            }
        }
    };
}

output!(f32, F32);
output!(f64, F64);
output!(i32, S32);
output!(u8, U8);
output!(String, Text);

/// Output rows of `width` values, one for each row of `input`, filled by
/// `f(row index, input row, output row)`: the loop of every row-wise stage, with both rows
/// borrowed as slices.
///
/// ```
/// use sqrtspace_sdk::ndarray::array;
/// let sums = sqrtspace_sdk::map_rows(array![[1.0f32, 2.0], [3.0, 4.0]].view(), 1, |_, row, out| {
///     out[0] = row.iter().sum::<f32>();
/// })
/// .unwrap();
/// assert_eq!(sums, array![[3.0], [7.0]]);
/// ```
pub fn map_rows<T: Copy, U: Copy + Default>(
    input: ArrayView2<'_, T>,
    width: usize,
    mut f: impl FnMut(usize, &[T], &mut [U]),
) -> Result<Array2<U>, Error> {
    let mut out = Array2::from_elem((input.nrows(), width), U::default());
    for (r, (row, mut dst)) in input.rows().into_iter().zip(out.rows_mut()).enumerate() {
        let (Some(row), Some(dst)) = (row.to_slice(), dst.as_slice_mut()) else {
            return Err(Error::Input("rows are not contiguous".into()));
        };
        f(r, row, dst);
    }
    Ok(out)
}

fn layout_of(tensor: &wit::Tensor, frequency: Option<FrequencyAxis>) -> Layout {
    let dtype = match tensor.data {
        wit::Data::F32(_) => Dtype::F32,
        wit::Data::F64(_) => Dtype::F64,
        wit::Data::C32(_) => Dtype::C32,
        wit::Data::S32(_) => Dtype::S32,
        wit::Data::U8(_) => Dtype::U8,
        wit::Data::Text(_) => Dtype::Text,
    };
    Layout {
        dtype,
        row_shape: tensor.shape.iter().skip(1).map(|&d| d as usize).collect(),
        frequency,
    }
}

fn empty_tensor(layout: &Layout) -> wit::Tensor {
    let shape = std::iter::once(0)
        .chain(layout.row_shape.iter().map(|&d| d as u32))
        .collect();
    let data = match layout.dtype {
        Dtype::F32 => wit::Data::F32(Vec::new()),
        Dtype::F64 => wit::Data::F64(Vec::new()),
        Dtype::C32 => wit::Data::C32(Vec::new()),
        Dtype::S32 => wit::Data::S32(Vec::new()),
        Dtype::U8 => wit::Data::U8(Vec::new()),
        Dtype::Text => wit::Data::Text(Vec::new()),
    };
    wit::Tensor { shape, data }
}

/// Reads parameters written in RON, with the same extensions the pipeline file has. A field
/// the parameters do not have is an error, with the field meant when one is close: a typo
/// must not be silently ignored (and then be reported as the missing field it was meant to
/// be). Errors start with the line and column inside the params text, which the host turns
/// into a place in the pipeline file.
fn parse_params<P: DeserializeOwned>(text: &str) -> Result<P, Error> {
    let options = ron::Options::default().with_default_extension(
        ron::extensions::Extensions::IMPLICIT_SOME
            | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
    );
    let text = if text.trim().is_empty() { "()" } else { text };
    let mut unknown = Vec::new();
    let parsed = ron::Deserializer::from_str_with_options(text, &options).and_then(|mut de| {
        let value = serde_ignored::deserialize(&mut de, |path| unknown.push(path.to_string()))
            .map_err(|e| de.span_error(e))?;
        de.end().map_err(|e| de.span_error(e))?;
        Ok(value)
    });
    let mention_unknown = |missing: Option<String>| -> Option<Error> {
        let field = unknown.first()?;
        let name = field.rsplit('.').next().unwrap_or(field);
        let hint = missing
            .filter(|m| strsim::levenshtein(m, name) <= 2)
            .map(|m| format!(", did you mean `{m}`?"))
            .unwrap_or_default();
        Some(Error::Params(format!("unknown field `{field}`{hint}")))
    };
    match parsed {
        Ok(value) => match mention_unknown(None) {
            Some(error) => Err(error),
            None => Ok(value),
        },
        Err(e) => {
            let missing = match &e.code {
                ron::Error::MissingStructField { field, .. } => Some(field.to_string()),
                _ => None,
            };
            Err(mention_unknown(missing).unwrap_or_else(|| Error::Params(e.to_string())))
        }
    }
}

/// A kernel: `step(block, state) -> (rows, state')`, with its state serialized by serde.
pub trait Kernel {
    /// Parameters, read from the pipeline with serde.
    type Params: DeserializeOwned;
    /// The state carried from block to block.
    type State: Serialize + DeserializeOwned;
    /// The rows each step returns.
    type Output: Output;
    /// The state before the first window, given the parameters and the configuration.
    fn init(params: &Self::Params, config: &Config) -> Result<Self::State, Error>;
    /// One block: the output rows, with `state` advanced past them.
    fn step(
        block: &Block,
        params: &Self::Params,
        state: &mut Self::State,
    ) -> Result<Self::Output, Error>;
}

#[doc(hidden)]
pub mod __rt {
    //! What the export macros expand to: one plugin object per component instance.

    use super::*;

    /// The operations the host calls, for a stage or a kernel.
    pub trait Plugin {
        fn info(&self) -> wit::StageInfo;
        fn config(&self) -> Option<std::rc::Rc<Config>>;
        fn configure(&mut self, params: &str, config: Config) -> Result<wit::Configured, Error>;
        fn process(&mut self, block: Block) -> Result<wit::Tensor, Error>;
        fn init_state(&mut self) -> Result<Vec<u8>, Error>;
        fn step(&mut self, block: Block, state: &[u8]) -> Result<(wit::Tensor, Vec<u8>), Error>;
    }

    thread_local! {
        static PLUGIN: RefCell<Option<Box<dyn Plugin>>> = const { RefCell::new(None) };
    }

    /// Runs `f` on this instance's plugin, made by `make` on first use.
    pub fn with<R>(make: fn() -> Box<dyn Plugin>, f: impl FnOnce(&mut dyn Plugin) -> R) -> R {
        PLUGIN.with(|cell| {
            let mut slot = cell.borrow_mut();
            let plugin = slot.get_or_insert_with(make);
            f(plugin.as_mut())
        })
    }

    fn block(block: wit::Block, inputs: Vec<wit::Tensor>, config: std::rc::Rc<Config>) -> Block {
        Block {
            t0: block.t0,
            rows: block.rows as usize,
            context_rows: block.context_rows as usize,
            inputs,
            config,
        }
    }

    fn not_configured() -> Error {
        Error::Failed("called before configure".into())
    }

    fn info(name: &str, version: &str, description: &str, stateful: bool) -> wit::StageInfo {
        wit::StageInfo {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            stateful,
        }
    }

    fn empty_block(config: &std::rc::Rc<Config>) -> Block {
        Block {
            t0: 0,
            rows: 0,
            context_rows: 0,
            inputs: config.inputs.iter().map(empty_tensor).collect(),
            config: std::rc::Rc::clone(config),
        }
    }

    /// A stage made of one function.
    pub struct FnStage<P, O> {
        pub run: fn(&Block, &P) -> Result<O, Error>,
        pub name: &'static str,
        pub version: &'static str,
        pub description: &'static str,
        /// Earlier rows each output row reads, from the parameters.
        pub context: fn(&P) -> u32,
        pub params: Option<P>,
        pub config: Option<std::rc::Rc<Config>>,
    }

    impl<P, O> std::fmt::Debug for FnStage<P, O> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FnStage").field("name", &self.name).finish()
        }
    }

    impl<P: DeserializeOwned + 'static, O: Output + 'static> Plugin for FnStage<P, O> {
        fn info(&self) -> wit::StageInfo {
            info(self.name, self.version, self.description, false)
        }

        fn config(&self) -> Option<std::rc::Rc<Config>> {
            self.config.clone()
        }

        fn configure(&mut self, params: &str, config: Config) -> Result<wit::Configured, Error> {
            let params: P = parse_params(params)?;
            let config = std::rc::Rc::new(config);
            let probe = (self.run)(&empty_block(&config), &params)?.into_tensor();
            let context = (self.context)(&params);
            self.params = Some(params);
            self.config = Some(config);
            Ok(wit::Configured {
                output: layout_of(&probe, None).to_wit(),
                context,
            })
        }

        fn process(&mut self, b: Block) -> Result<wit::Tensor, Error> {
            let params = self.params.as_ref().ok_or_else(not_configured)?;
            Ok((self.run)(&b, params)?.into_tensor())
        }

        fn init_state(&mut self) -> Result<Vec<u8>, Error> {
            Err(Error::Failed(format!(
                "{} is a stage, not a kernel",
                self.name
            )))
        }

        fn step(&mut self, _: Block, _: &[u8]) -> Result<(wit::Tensor, Vec<u8>), Error> {
            Err(Error::Failed(format!(
                "{} is a stage, not a kernel",
                self.name
            )))
        }
    }

    /// A kernel type's plugin.
    pub struct KernelPlugin<K: Kernel> {
        pub name: &'static str,
        pub version: &'static str,
        pub description: &'static str,
        pub params: Option<K::Params>,
        pub config: Option<std::rc::Rc<Config>>,
    }

    impl<K: Kernel> std::fmt::Debug for KernelPlugin<K> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("KernelPlugin")
                .field("name", &self.name)
                .finish()
        }
    }

    fn encode<S: Serialize>(state: &S) -> Result<Vec<u8>, Error> {
        postcard::to_stdvec(state).map_err(|e| Error::State(e.to_string()))
    }

    impl<K: Kernel + 'static> Plugin for KernelPlugin<K> {
        fn info(&self) -> wit::StageInfo {
            info(self.name, self.version, self.description, true)
        }

        fn config(&self) -> Option<std::rc::Rc<Config>> {
            self.config.clone()
        }

        fn configure(&mut self, params: &str, config: Config) -> Result<wit::Configured, Error> {
            let params: K::Params = parse_params(params)?;
            let config = std::rc::Rc::new(config);
            let mut state = K::init(&params, &config)?;
            let probe = K::step(&empty_block(&config), &params, &mut state)?.into_tensor();
            self.params = Some(params);
            self.config = Some(config);
            Ok(wit::Configured {
                output: layout_of(&probe, None).to_wit(),
                context: 0,
            })
        }

        fn process(&mut self, _: Block) -> Result<wit::Tensor, Error> {
            Err(Error::Failed(format!(
                "{} is a kernel: call step",
                self.name
            )))
        }

        fn init_state(&mut self) -> Result<Vec<u8>, Error> {
            let params = self.params.as_ref().ok_or_else(not_configured)?;
            let config = self.config.as_ref().ok_or_else(not_configured)?;
            encode(&K::init(params, config)?)
        }

        fn step(&mut self, b: Block, state: &[u8]) -> Result<(wit::Tensor, Vec<u8>), Error> {
            let params = self.params.as_ref().ok_or_else(not_configured)?;
            let mut state: K::State =
                postcard::from_bytes(state).map_err(|e| Error::State(e.to_string()))?;
            let out = K::step(&b, params, &mut state)?.into_tensor();
            Ok((out, encode(&state)?))
        }
    }

    /// The host-facing functions, for the export macros.
    pub fn describe(make: fn() -> Box<dyn Plugin>) -> wit::StageInfo {
        with(make, |p| p.info())
    }

    pub fn configure(
        make: fn() -> Box<dyn Plugin>,
        params: wit::Params,
        inputs: Vec<wit::Layout>,
        signal: wit::Signal,
    ) -> Result<wit::Configured, wit::Error> {
        let config = Config {
            inputs: inputs.into_iter().map(Layout::from_wit).collect(),
            sample_rate: signal.sample_rate,
            window: signal.window as usize,
            hop: signal.hop as usize,
        };
        with(make, |p| p.configure(&params.ron, config)).map_err(Into::into)
    }

    pub fn process(
        make: fn() -> Box<dyn Plugin>,
        b: wit::Block,
        inputs: Vec<wit::Tensor>,
    ) -> Result<wit::Tensor, wit::Error> {
        with(make, |p| {
            let config = p.config().ok_or_else(not_configured)?;
            p.process(block(b, inputs, config))
        })
        .map_err(Into::into)
    }

    pub fn init_state(make: fn() -> Box<dyn Plugin>) -> Result<Vec<u8>, wit::Error> {
        with(make, |p| p.init_state()).map_err(Into::into)
    }

    pub fn step(
        make: fn() -> Box<dyn Plugin>,
        b: wit::Block,
        inputs: Vec<wit::Tensor>,
        state: Vec<u8>,
    ) -> Result<(wit::Tensor, Vec<u8>), wit::Error> {
        with(make, |p| {
            let config = p.config().ok_or_else(not_configured)?;
            p.step(block(b, inputs, config), &state)
        })
        .map_err(Into::into)
    }
}

/// Exports a stage function as this component's stage.
///
/// `export_stage!(function, name = "...", version = "...")`, optionally followed by
/// `description = "..."` and either `context = N` (earlier rows each output row reads) or
/// `context_from = f`, a `fn(&Params) -> u32` for a context the parameters decide.
#[macro_export]
macro_rules! export_stage {
    ($run:path, name = $name:expr, version = $version:expr $(, description = $desc:expr)? $(, context = $context:expr)? $(, context_from = $context_from:path)? $(,)?) => {
        fn __sqrtspace_make() -> ::std::boxed::Box<dyn $crate::__rt::Plugin> {
            ::std::boxed::Box::new($crate::__rt::FnStage {
                run: $run,
                name: $name,
                version: $version,
                description: $crate::__first!($($desc,)? ""),
                context: $crate::__first!($($context_from,)? $(|_| $context,)? |_| 0),
                params: None,
                config: None,
            })
        }
        $crate::__export_guest!(__sqrtspace_make);
    };
}

/// Exports a [`Kernel`] type as this component's stage.
///
/// `export_kernel!(Type, name = "...", version = "...")`, optionally followed by
/// `description = "..."`.
#[macro_export]
macro_rules! export_kernel {
    ($kernel:ty, name = $name:expr, version = $version:expr $(, description = $desc:expr)? $(,)?) => {
        fn __sqrtspace_make() -> ::std::boxed::Box<dyn $crate::__rt::Plugin> {
            ::std::boxed::Box::new($crate::__rt::KernelPlugin::<$kernel> {
                name: $name,
                version: $version,
                description: $crate::__first!($($desc,)? ""),
                params: None,
                config: None,
            })
        }
        $crate::__export_guest!(__sqrtspace_make);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __first {
    ($value:expr, $default:expr) => {
        $value
    };
    ($default:expr) => {
        $default
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_guest {
    ($make:ident) => {
        struct __SqrtspaceGuest;
        impl $crate::bindings::exports::sqrtspace::pipeline::stage::Guest for __SqrtspaceGuest {
            fn describe() -> $crate::bindings::exports::sqrtspace::pipeline::stage::StageInfo {
                $crate::__rt::describe($make)
            }
            fn configure(
                params: $crate::bindings::exports::sqrtspace::pipeline::stage::Params,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Layout>,
                signal: $crate::bindings::exports::sqrtspace::pipeline::stage::Signal,
            ) -> ::std::result::Result<
                $crate::bindings::exports::sqrtspace::pipeline::stage::Configured,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::configure($make, params, inputs, signal)
            }
            fn process(
                block: $crate::bindings::exports::sqrtspace::pipeline::stage::Block,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Tensor>,
            ) -> ::std::result::Result<
                $crate::bindings::exports::sqrtspace::pipeline::stage::Tensor,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::process($make, block, inputs)
            }
            fn init_state() -> ::std::result::Result<
                ::std::vec::Vec<u8>,
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::init_state($make)
            }
            fn step(
                block: $crate::bindings::exports::sqrtspace::pipeline::stage::Block,
                inputs: ::std::vec::Vec<$crate::bindings::exports::sqrtspace::pipeline::stage::Tensor>,
                state: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<
                (
                    $crate::bindings::exports::sqrtspace::pipeline::stage::Tensor,
                    ::std::vec::Vec<u8>,
                ),
                $crate::bindings::exports::sqrtspace::pipeline::stage::Error,
            > {
                $crate::__rt::step($make, block, inputs, state)
            }
        }
        $crate::bindings::__export_plugin!(__SqrtspaceGuest with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::{Error, NoParams, parse_params};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Gain {
        gain: f32,
        #[serde(default)]
        offset: f32,
    }

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Params(m)) => m,
            other => panic!("not a params error: {other:?}"),
        }
    }

    #[test]
    fn a_misspelt_field_is_named_with_the_one_meant() {
        assert_eq!(
            parse_params::<Gain>("(gain: 2.0)").ok(),
            Some(Gain {
                gain: 2.0,
                offset: 0.0
            })
        );
        assert_eq!(
            message(parse_params::<Gain>("(gian: 2.0)")),
            "unknown field `gian`, did you mean `gain`?"
        );
        assert_eq!(
            message(parse_params::<Gain>("(gain: 2.0, ofset: 1.0)")),
            "unknown field `ofset`"
        );
        assert!(
            message(parse_params::<NoParams>("(gain: 2.0)"))
                .contains("Unexpected field named `gain` in `NoParams`")
        );
        assert!(parse_params::<NoParams>("").is_ok());
        // Syntax errors keep their place in the params text, for the host to translate.
        assert!(
            message(parse_params::<Gain>("(gain: 2.0,, )")).starts_with("1:12:"),
            "{}",
            message(parse_params::<Gain>("(gain: 2.0,, )"))
        );
    }
}
