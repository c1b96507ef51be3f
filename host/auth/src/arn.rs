//! Method ARNs (`arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{METHOD}/{path}`) and
//! the IAM resource glob that policies match them with: `*` is any run of characters (`/` and `:`
//! included), `?` exactly one character, everything else literal. The match is the classic
//! two-pointer wildcard algorithm: O(pattern × text) at worst, no recursion, no allocation.

/// The longest method ARN of an authorized method AWS accepts, in bytes; a longer one (long path
/// parameters) is answered 414 Request URI too long.
pub const MAX_METHOD_ARN: usize = 1600;

/// The longest `Resource` value a Lambda authorizer's policy statement may carry, in characters.
pub const MAX_AUTHORIZER_RESOURCE: usize = 512;

/// The method ARN of a request: `arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`,
/// where `path` is the request path below the stage with its leading `/` removed (`/pets/1` gives
/// `.../prod/GET/pets/1`, `/` gives `.../prod/GET/`). The method is upper-cased.
pub fn method_arn(
    region: &str,
    account: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut arn = String::with_capacity(
        32 + region.len() + account.len() + api_id.len() + stage.len() + method.len() + path.len(),
    );
    arn.push_str("arn:aws:execute-api:");
    arn.push_str(region);
    arn.push(':');
    arn.push_str(account);
    arn.push(':');
    arn.push_str(api_id);
    arn.push('/');
    arn.push_str(stage);
    arn.push('/');
    for c in method.chars() {
        arn.push(c.to_ascii_uppercase());
    }
    arn.push('/');
    arn.push_str(path);
    arn
}

/// Whether `arn` matches the IAM resource pattern `pattern`: `*` matches any run of characters
/// (including none, `/` and `:`), `?` exactly one character, the rest literally and
/// case-sensitively.
pub fn matches(pattern: &str, arn: &str) -> bool {
    glob(pattern, arn, false)
}

/// [`matches`] with ASCII case folding, as IAM compares actions (`execute-api:invoke` matches
/// `execute-api:Invoke`) and `StringLike` does not.
pub fn matches_ignore_case(pattern: &str, text: &str) -> bool {
    glob(pattern, text, true)
}

/// The two-pointer wildcard match over characters. On a mismatch after a `*`, the star is made to
/// swallow one more character and the match resumes right after it; only the latest star matters,
/// which is what keeps it from backtracking exponentially.
fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    let eq = |a: char, b: char| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // (pattern position after the latest star, text position where that star's match ends)
    let mut star: Option<(usize, usize)> = None;
    let mut p_pos = 0usize;
    let mut t_pos = 0usize;
    loop {
        let tc = text[t_pos..].chars().next();
        let pc = pattern[p_pos..].chars().next();
        match (pc, tc) {
            (Some('*'), _) => {
                p_pos += 1;
                star = Some((p_pos, t_pos));
            }
            (Some(pc), Some(tc)) if pc == '?' || eq(pc, tc) => {
                p_pos += pc.len_utf8();
                t_pos += tc.len_utf8();
            }
            (_, Some(_)) => match star {
                Some((sp, st)) => {
                    // Let the star swallow one more character of the text.
                    let skipped = text[st..].chars().next().map_or(1, char::len_utf8);
                    let st = st + skipped;
                    star = Some((sp, st));
                    p_pos = sp;
                    t_pos = st;
                }
                None => return false,
            },
            (None, None) => return true,
            (Some(_), None) => {
                // Text exhausted: only stars may remain.
                return pattern[p_pos..].chars().all(|c| c == '*');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/1";

    #[test]
    fn builds_method_arns() {
        assert_eq!(
            method_arn(
                "us-east-1",
                "123456789012",
                "abc123",
                "prod",
                "get",
                "/pets/1"
            ),
            ARN
        );
        assert_eq!(
            method_arn("us-east-1", "123456789012", "abc123", "prod", "GET", "/"),
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/"
        );
        assert_eq!(
            method_arn("eu-west-1", "1", "a", "s", "POST", "x/y"),
            "arn:aws:execute-api:eu-west-1:1:a/s/POST/x/y"
        );
    }

    #[test]
    fn literal_and_wildcards() {
        assert!(matches(ARN, ARN));
        assert!(!matches(ARN, &ARN.to_uppercase()));
        assert!(matches("*", ARN));
        assert!(matches("*", ""));
        assert!(matches("arn:aws:execute-api:*:*:*/*/GET/pets/*", ARN));
        assert!(matches("arn:aws:execute-api:*:*:*/prod/*/pets/*", ARN));
        assert!(!matches("arn:aws:execute-api:*:*:*/*/GET/pets", ARN));
        assert!(matches(
            "arn:aws:execute-api:*:*:*/*/GET/pets",
            "arn:aws:execute-api:us-east-1:1:a/prod/GET/pets"
        ));
        assert!(!matches("arn:aws:execute-api:*:*:*/dev/*", ARN));
        assert!(matches(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*",
            ARN
        ));
        // `*` crosses `/` and `:`.
        assert!(matches("arn:*1", ARN));
        assert!(matches("arn:aws:*/pets/1", ARN));
    }

    #[test]
    fn trailing_star_matches_empty() {
        assert!(matches(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/*",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/"
        ));
        assert!(matches("abc*", "abc"));
        assert!(matches("abc**", "abc"));
        assert!(matches("*abc*", "abc"));
        assert!(!matches("abc*d", "abc"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(!matches("a?c", "abbc"));
        assert!(matches("a??", "aé!"));
        assert!(matches(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/?",
            ARN
        ));
        assert!(!matches(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/??",
            ARN
        ));
        assert!(matches("?*", "x"));
        assert!(!matches("?*", ""));
    }

    #[test]
    fn backtracks_to_the_latest_star_only() {
        assert!(matches("*a*b*c", "xxaxxbxxbxxc"));
        assert!(!matches("*a*b*c", "xxaxxbxxbxxd"));
        assert!(matches("a*b", "aaab"));
        assert!(matches("*ab", "aab"));
        assert!(matches("*/GET/*", "x/POST/y/GET/z"));
        // A pathological input finishes quickly (no exponential backtracking).
        let text = "a".repeat(2000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!matches(&pattern, &text));
    }

    #[test]
    fn ignore_case_variant() {
        assert!(matches_ignore_case(
            "execute-api:invoke",
            "execute-api:Invoke"
        ));
        assert!(matches_ignore_case("EXECUTE-API:*", "execute-api:Invoke"));
        assert!(!matches("execute-api:invoke", "execute-api:Invoke"));
    }
}
