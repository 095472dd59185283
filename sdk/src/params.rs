//! A stage's parameters, as the pipeline writes them.

use serde::de::DeserializeOwned;

use crate::Error;

/// Reads parameters written in RON, with the same extensions the pipeline file has. A field
/// the parameters do not have is an error, with the field meant when one is close: a typo
/// must not be silently ignored (and then be reported as the missing field it was meant to
/// be). Errors start with the line and column inside the params text, which the host turns
/// into a place in the pipeline file.
pub(crate) fn parse_params<P: DeserializeOwned>(text: &str) -> Result<P, Error> {
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

#[cfg(test)]
mod tests {
    use super::parse_params;
    use crate::{Error, NoParams};

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
