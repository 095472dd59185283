//! What the export macros expand to: one plugin object per component instance.

use crate::block::{empty_tensor, layout_of};
use crate::params::parse_params;
use crate::*;
use std::cell::RefCell;

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
