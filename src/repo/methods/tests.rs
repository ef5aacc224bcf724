//! The statements of this dialect against the state machine's table: every statement a rule
//! names exists and moves jobs between the states the rule says, and every `.sql` file of the
//! dialect is a listed statement.

use super::sql::ALL;
use super::Backend;
use crate::lifecycle::table::{Applied, JOB_RULES, WORKER_RULES};
use crate::repo::Dialect;

fn statement(file: &str) -> &'static str {
    let name = file.to_ascii_uppercase();
    ALL.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("{:?} has no statement {file}", Backend::DIALECT))
}

#[test]
fn set_based_transitions_move_jobs_as_the_table_says() {
    for rule in &JOB_RULES {
        let Applied::Sql(files) = rule.applied else {
            continue;
        };
        for file in files {
            let text = statement(file);
            let sets = rule
                .to
                .iter()
                .any(|to| text.contains(&format!("status = '{}'", to.as_str())));
            assert!(sets, "{file} does not set a state `{}` leads to", rule.name);
            for from in rule.from {
                assert!(
                    text.contains(&format!("status = '{}'", from.as_str())),
                    "{file} does not pick jobs in {from} for `{}`",
                    rule.name
                );
            }
        }
    }
    for rule in &WORKER_RULES {
        if let Applied::Sql(files) = rule.applied {
            files.iter().for_each(|f| {
                statement(f);
            });
        }
    }
}

#[test]
fn every_sql_file_is_a_listed_statement() {
    let folder = match Backend::DIALECT {
        Dialect::Sqlite => "src/repo/sqlite/sql",
        Dialect::Postgres => "src/repo/postgres/sql",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("the statements folder") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name.strip_suffix(".sql").expect("only .sql files");
        statement(stem);
        files += 1;
    }
    assert_eq!(
        files,
        ALL.len(),
        "{} lists a statement twice",
        dir.display()
    );
}
