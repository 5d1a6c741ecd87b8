//! Text from outside (account names, program names and paths) made fit for a tray menu,
//! a tooltip or a notification: one line, bounded, and never read as markup.

/// `text` on one line and at most `max_chars` characters: control characters (newlines, tabs,
/// escapes) become spaces, and a longer text is cut with `…` as its last character.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count + 1 == max_chars && text.chars().nth(max_chars).is_some() {
            out.push('…');
            break;
        }
        if count == max_chars {
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// A dbusmenu label showing `text` as it is: the menu protocol reads `_` as the mark of an
/// access key, and `__` as one underscore.
pub(crate) fn menu_label(text: &str) -> String {
    text.replace('_', "__")
}

/// `text` for a notification body, which servers may read as a subset of HTML
/// (`<b>`, `<a href>`...): `&`, `<` and `>` are escaped.
pub(crate) fn body_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_keeps_short_text_and_cuts_long_text_at_the_limit() {
        assert_eq!(one_line("work", 8), "work");
        assert_eq!(one_line("12345678", 8), "12345678");
        assert_eq!(one_line("123456789", 8), "1234567…");
        assert_eq!(one_line("123456789", 8).chars().count(), 8);
        assert_eq!(one_line("", 8), "");
        assert_eq!(one_line("a\nb\tc\u{1b}[2J", 32), "a b c [2J");
        // Characters, not bytes: no cut inside a character.
        assert_eq!(one_line("ééééé", 3), "éé…");
    }

    #[test]
    fn menu_labels_show_underscores_instead_of_access_keys() {
        assert_eq!(menu_label("my_work"), "my__work");
        assert_eq!(menu_label("__"), "____");
        assert_eq!(menu_label("plain"), "plain");
    }

    #[test]
    fn body_text_is_never_markup() {
        assert_eq!(body_text("/tmp/<b>x</b> & co"), "/tmp/&lt;b&gt;x&lt;/b&gt; &amp; co");
    }
}
