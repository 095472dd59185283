//! A corpus run over a cluster: timely's exchange hands each input to the worker it is
//! assigned to, each worker runs its inputs one at a time beside its thread, and the outcomes
//! are exchanged to worker 0, which keeps the manifest and prints the summary.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Input as _;
use timely::dataflow::operators::generic::operator::Operator as _;

use super::{CorpusRun, Ledger, Outcome};
use crate::cluster::{ClusterArgs, ClusterError};

/// An input sent to the worker that runs it: (worker, input).
type Assignment = (usize, usize);

impl CorpusRun {
    /// Runs every input not already done over the cluster `cluster` describes; process 0
    /// prints the summary, every process exits with its status.
    pub fn execute_on(self, cluster: &ClusterArgs) -> anyhow::Result<()> {
        let prepared = self.prepare()?;
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .map(|i| i.display().to_string())
            .collect();
        let hash = crate::cluster::run_hash(&[&prepared.run_id, &inputs.join("\n")]);
        let job = Arc::new((self, prepared));
        let summary = Arc::clone(&job);
        // Inputs being run outside timely's threads, so that a fault can wait for them to
        // stop (and remove what they were writing) before the process exits.
        let running = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::clone(&running);
        let work = move |worker: &mut timely::worker::Worker| -> anyhow::Result<Option<Ledger>> {
            let (run, prepared) = &*job;
            // Worker 0 alone looks at the output directory, before any input is handed out.
            // When it cannot go on (a manifest of another run, say) it still takes part in
            // the dataflow, handing out nothing, so that every process ends rather than
            // waits for it; its error is the run's.
            let failure: Rc<RefCell<Option<anyhow::Error>>> = Rc::default();
            let ledger = match worker.index() {
                0 => match run.ledger(prepared) {
                    Ok(ledger) => Some(ledger),
                    Err(e) => {
                        *failure.borrow_mut() = Some(e);
                        None
                    }
                },
                _ => None,
            };
            let assignments = ledger
                .as_ref()
                .map(|l| assign(&l.todo, &run.inputs, worker.peers()))
                .unwrap_or_default();
            let bar = match &ledger {
                Some(l) => super::progress_bars(l.todo.len() as u64).1,
                None => None,
            };
            let ledger = Rc::new(RefCell::new(ledger));
            let mut handle = InputHandle::<(), CapacityContainerBuilder<Vec<Assignment>>>::new();
            let (kept, failed) = (Rc::clone(&ledger), Rc::clone(&failure));
            let running_job = Arc::clone(&job);
            let recording_job = Arc::clone(&job);
            let running = Arc::clone(&running);
            worker.dataflow::<(), _, _>(|scope| {
                let activations = scope;
                scope
                    .input_from(&mut handle)
                    .unary_frontier(
                        Exchange::new(|&(worker, _): &Assignment| worker as u64),
                        "RunInputs",
                        move |capability, info| {
                            let activator = activations
                                .worker()
                                .sync_activator_for(info.address.to_vec());
                            let mut capability = Some(capability);
                            let mut queue = VecDeque::new();
                            let mut current: Option<(usize, mpsc::Receiver<Outcome>)> = None;
                            move |(input, frontier), output| {
                                input.for_each(|_, data| {
                                    queue.extend(data.drain(..).map(|(_, i)| i));
                                });
                                if let Some((i, outcome)) = &current {
                                    let outcome = match outcome.try_recv() {
                                        Ok(outcome) => Some(outcome),
                                        Err(mpsc::TryRecvError::Empty) => None,
                                        Err(mpsc::TryRecvError::Disconnected) => {
                                            Some(Err("its run ended without a result".into()))
                                        }
                                    };
                                    if let (Some(outcome), Some(cap)) = (outcome, &capability) {
                                        output.session(cap).give((*i, outcome));
                                        current = None;
                                    }
                                }
                                if current.is_none()
                                    && let Some(i) = queue.pop_front()
                                {
                                    match start(i, &running_job, &activator, &running) {
                                        Ok(receive) => current = Some((i, receive)),
                                        Err(e) => {
                                            if let Some(cap) = &capability {
                                                output.session(cap).give((
                                                    i,
                                                    Err(format!(
                                                        "cannot start a thread for it: {e}"
                                                    )),
                                                ));
                                            }
                                        }
                                    }
                                }
                                if current.is_none() && queue.is_empty() && frontier.is_empty() {
                                    capability = None;
                                }
                            }
                        },
                    )
                    .sink(
                        Exchange::new(|_: &(usize, Outcome)| 0),
                        "Manifest",
                        move |(input, _)| {
                            input.for_each(|_, data| {
                                let (run, prepared) = &*recording_job;
                                for (i, outcome) in data.drain(..) {
                                    let mut kept = kept.borrow_mut();
                                    let Some(ledger) = kept.as_mut() else {
                                        continue;
                                    };
                                    let recorded = ledger.record(
                                        &run.inputs[i],
                                        &prepared.outputs[i],
                                        outcome,
                                    );
                                    if let Err(e) = recorded {
                                        failed.borrow_mut().get_or_insert(e);
                                    }
                                    if let Some(bar) = &bar {
                                        bar.inc(1);
                                    }
                                }
                            });
                        },
                    );
            });
            for assignment in assignments {
                handle.send(assignment);
            }
            drop(handle);
            while worker.step_or_park(None) {}
            if let Some(e) = failure.borrow_mut().take() {
                return Err(e);
            }
            Ok(ledger.borrow_mut().take())
        };
        let quiet = move || in_flight.load(Ordering::SeqCst) == 0;
        let results = match crate::cluster::execute(cluster, hash, quiet, work) {
            Err(ClusterError::Stopped) => return Err(sqrtspace::ExecError::Stopped.into()),
            results => results?,
        };
        let mut ledger = None;
        for result in results {
            if let Some(kept) = result? {
                ledger = Some(kept);
            }
        }
        let (run, _) = &*summary;
        match ledger {
            Some(ledger) => ledger.finish(run.inputs.len(), &run.out_dir),
            None => Ok(()),
        }
    }
}

/// Runs input `i` on a thread of its own, which wakes the operator through `activator`
/// when the outcome is ready; `running` counts the inputs in flight.
fn start(
    i: usize,
    job: &Arc<(CorpusRun, super::Prepared)>,
    activator: &timely::scheduling::SyncActivator,
    running: &Arc<AtomicUsize>,
) -> std::io::Result<mpsc::Receiver<Outcome>> {
    let (send, receive) = mpsc::channel();
    let (job, activator, count) = (Arc::clone(job), activator.clone(), Arc::clone(running));
    running.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("sqrtspace-input".into())
        .spawn(move || {
            let (run, prepared) = &*job;
            let workers = run.spec.max_workers.unwrap_or(1);
            let outcome = run
                .run_input(i, prepared, workers, &None)
                .map_err(|e| format!("{e:#}"));
            count.fetch_sub(1, Ordering::SeqCst);
            let _ = send.send(outcome);
            let _ = activator.activate();
        });
    if let Err(e) = spawned {
        running.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    Ok(receive)
}

/// Spreads inputs over `workers`, largest first, each to the worker with the fewest bytes so
/// far (the lowest index among equals): every worker gets about as many bytes to read.
fn assign(todo: &[usize], inputs: &[std::path::PathBuf], workers: usize) -> Vec<Assignment> {
    let mut load = vec![0u64; workers.max(1)];
    todo.iter()
        .map(|&i| {
            let size = std::fs::metadata(&inputs[i]).map_or(0, |m| m.len());
            let (worker, _) = load
                .iter()
                .enumerate()
                .min_by_key(|&(w, bytes)| (*bytes, w))
                .unwrap_or((0, &0));
            load[worker] += size.max(1);
            (worker, i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn largest_first_to_the_least_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inputs: Vec<_> = [5usize, 40, 10, 30, 20]
            .iter()
            .enumerate()
            .map(|(i, len)| {
                let path = dir.path().join(format!("{i}"));
                std::fs::write(&path, vec![0u8; *len]).expect("write");
                path
            })
            .collect();
        // Largest first: 40, 30, 20, 10, 5.
        let todo = [1, 3, 4, 2, 0];
        let got = super::assign(&todo, &inputs, 2);
        assert_eq!(got, vec![(0, 1), (1, 3), (1, 4), (0, 2), (0, 0)]);
    }
}
