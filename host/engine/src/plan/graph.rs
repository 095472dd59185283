//! The stage graph: names resolved to nodes, checked for unknown names and cycles, and put in
//! an order where every stage comes after its inputs.

use super::{INPUT_NODE, Node, NodeId, PlanError, did_you_mean};
use crate::spec::{INPUT, InputKind, Spec, StageSpec};
use crate::stage::Port;
use crate::tensor::DType;

/// The stage spec called `name` (which the graph has already checked exists).
pub(super) fn stage_spec<'a>(spec: &'a Spec, name: &str) -> &'a StageSpec {
    spec.stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| unreachable!("stage `{name}` was resolved from this spec"))
}

/// Nodes in dependency order (input first) and the target's id.
pub(super) fn build_nodes(spec: &Spec) -> Result<(Vec<Node>, NodeId), PlanError> {
    if spec.stages.is_empty() {
        return Err(PlanError::NoStages);
    }
    let mut seen = std::collections::HashSet::new();
    for stage in &spec.stages {
        let why = if stage.name.is_empty() {
            Some("names cannot be empty")
        } else if stage.name == INPUT {
            Some("\"input\" is the name of the input signal")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(PlanError::BadName {
                name: stage.name.clone(),
                why,
            });
        }
        if !seen.insert(stage.name.as_str()) {
            return Err(PlanError::DuplicateStage {
                name: stage.name.clone(),
            });
        }
    }
    let names = || spec.stages.iter().map(|s| s.name.as_str()).chain([INPUT]);
    for stage in &spec.stages {
        if stage.inputs.is_empty() {
            return Err(PlanError::NoInputs {
                stage: stage.name.clone(),
            });
        }
        for input in &stage.inputs {
            if input != INPUT && !seen.contains(input.as_str()) {
                return Err(PlanError::UnknownInput {
                    stage: stage.name.clone(),
                    input: input.clone(),
                    hint: did_you_mean(input, names()),
                });
            }
        }
    }

    // Kahn's algorithm, taking stages in the order the file lists them when several are ready.
    let mut order: Vec<&StageSpec> = Vec::with_capacity(spec.stages.len());
    let mut placed = std::collections::HashSet::from([INPUT]);
    while order.len() < spec.stages.len() {
        let ready = spec.stages.iter().find(|s| {
            !placed.contains(s.name.as_str())
                && s.inputs.iter().all(|i| placed.contains(i.as_str()))
        });
        match ready {
            Some(stage) => {
                placed.insert(stage.name.as_str());
                order.push(stage);
            }
            None => return Err(cycle(spec, &placed)),
        }
    }

    let target_name = match &spec.target {
        Some(t) => t.as_str(),
        None => spec.stages.last().map_or("", |s| s.name.as_str()),
    };
    let mut nodes = vec![Node::unbuilt(
        INPUT,
        "input",
        Vec::new(),
        Port::plain(
            match spec.input {
                InputKind::Samples => DType::F32,
                InputKind::Lines => DType::Text,
            },
            vec![spec.window],
        ),
    )];
    let id_of = |nodes: &[Node], name: &str| nodes.iter().position(|n| n.name == name);
    for stage in order {
        let inputs = stage
            .inputs
            .iter()
            .map(|i| id_of(&nodes, i).unwrap_or(INPUT_NODE))
            .collect();
        // The operator, and with it the port, is built once the inputs' ports are known.
        nodes.push(Node::unbuilt(
            &stage.name,
            stage.op.name(),
            inputs,
            Port::plain(DType::F32, Vec::new()),
        ));
    }
    let target = match id_of(&nodes, target_name) {
        Some(id) if id != INPUT_NODE => id,
        _ => {
            return Err(PlanError::UnknownTarget {
                target: target_name.to_string(),
                hint: did_you_mean(target_name, spec.stages.iter().map(|s| s.name.as_str())),
            });
        }
    };
    Ok((nodes, target))
}

/// Describes one cycle among the stages that could not be placed.
fn cycle(spec: &Spec, placed: &std::collections::HashSet<&str>) -> PlanError {
    let stuck = |name: &str| !placed.contains(name);
    let Some(start) = spec.stages.iter().find(|s| stuck(&s.name)) else {
        return PlanError::Cycle { path: Vec::new() };
    };
    // Every stuck stage reads at least one stuck stage, so walking those edges must revisit
    // a stage; the walk from its first visit is the cycle.
    let mut path: Vec<&str> = vec![start.name.as_str()];
    loop {
        let current = stage_spec(spec, path[path.len() - 1]);
        let Some(next) = current.inputs.iter().find(|i| stuck(i)) else {
            return PlanError::Cycle {
                path: path.iter().map(|s| s.to_string()).collect(),
            };
        };
        if let Some(first) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<String> = path[first..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.clone());
            // Report it in the direction data flows: producer -> consumer.
            cycle.reverse();
            return PlanError::Cycle { path: cycle };
        }
        path.push(next);
    }
}

impl Node {
    fn unbuilt(name: &str, op_name: &'static str, inputs: Vec<NodeId>, port: Port) -> Node {
        Node {
            name: name.to_string(),
            op_name,
            inputs,
            port,
            context: 0,
            kernel: false,
            checkpoint_output: false,
            reverse: false,
            fan_out: 0,
            read_with_context: false,
            needed: false,
            fused_into: None,
            op: None,
        }
    }
}

/// Marks the nodes the target depends on and counts how they are read.
pub(super) fn mark_needed(nodes: &mut [Node], target: NodeId) {
    nodes[target].needed = true;
    // Nodes are in dependency order, so one backward sweep reaches every ancestor.
    for id in (0..nodes.len()).rev() {
        if nodes[id].needed {
            for i in nodes[id].inputs.clone() {
                nodes[i].needed = true;
            }
        }
    }
    for id in 0..nodes.len() {
        if !nodes[id].needed {
            continue;
        }
        let context = nodes[id].context;
        for i in nodes[id].inputs.clone() {
            nodes[i].fan_out += 1;
            nodes[i].read_with_context |= context > 0;
        }
    }
}
