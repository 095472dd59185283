//! The params of the hostile test plugins: `(does: "what", n: N)`, read without a RON parser
//! (they bypass the SDK). Included by both plugins: hostile-kernel, whose file this is, and hostile-stage.

/// The quoted value after `does:` and the number after `n:` in the params' RON text.
pub(crate) fn parse(ron: &str) -> (String, usize) {
    let does = ron
        .split_once("does:")
        .and_then(|(_, rest)| rest.split('"').nth(1))
        .unwrap_or_default()
        .to_string();
    let n = ron
        .split_once("n:")
        .map(|(_, rest)| {
            rest.trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    (does, n)
}
