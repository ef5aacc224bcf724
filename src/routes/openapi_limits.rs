//! The checks' limits, written into the OpenAPI document: every minimum, maximum, length,
//! pattern and item count here is built from the constant or grammar its check uses, so the
//! document and the check cannot drift apart.
//!
//! utoipa's `#[schema(maximum = ...)]` takes only literals, so the limits are not attributes on
//! the wire types but this one pass over the built document, beside the checks' constants.

use super::{batch, delivery, execute, jobs, reports, workers};
use crate::http::validate::{self, patterns, usage};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::Number;

/// What a value may be.
#[derive(Debug, Clone)]
enum Limit {
    /// An integer from the first bound to the second, each open when absent.
    Integer(Option<i64>, Option<i64>),
    /// A number above `min` (or from it, unless `exclusive`) to `max`.
    Number {
        /// The lower bound.
        min: f64,
        /// Whether `min` itself is refused.
        exclusive: bool,
        /// The upper bound, included.
        max: f64,
    },
    /// A string of `min` to `max` characters matching `pattern`.
    Text {
        /// Fewest characters.
        min: usize,
        /// Most characters (the checks count bytes: the same for the ASCII most fields take).
        max: usize,
        /// The grammar, from [`patterns`].
        pattern: Option<String>,
    },
    /// An array of `min` to `max` items.
    Items {
        /// Fewest items.
        min: usize,
        /// Most items.
        max: usize,
    },
    /// An object used as a map: at most `max` entries, names and values as given.
    Map {
        /// Most entries.
        max: usize,
        /// What a name may be.
        names: Option<Box<Limit>>,
        /// What a value may be.
        values: Option<Box<Limit>>,
    },
}

/// Where a limit applies.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A property of a component schema: `(schema, property)`.
    Property(&'static str, &'static str),
    /// One of the `oneOf` alternatives of a component schema: `(schema, index)`.
    Variant(&'static str, usize),
    /// A query or path parameter of a route: `(path, parameter)`.
    Parameter(&'static str, &'static str),
}

/// Writes every limit into `doc`.
///
/// # Panics
/// When a limit names a schema, property or parameter the document lacks, or one of another
/// shape: a renamed field must take its limit along (every test that starts a server fails
/// here until it does).
pub fn constrain(doc: &mut OpenApi) {
    for (target, limit) in limits() {
        let schema = find(doc, target)
            .unwrap_or_else(|| panic!("the OpenAPI limits name {target:?}, which is missing"));
        if let Err(e) = apply(schema, &limit) {
            panic!("the OpenAPI limit of {target:?}: {e}");
        }
    }
    single_result_names_its_worker(doc);
}

/// `POST /api/jobs/submit-result` takes a [`gantry_api::SubmitResultRequest`] whose `workerId`
/// is required (a batch's results may leave it out): its body is that schema with the field
/// required.
fn single_result_names_its_worker(doc: &mut OpenApi) {
    let path = "/api/jobs/submit-result";
    let content = doc
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.post.as_mut())
        .and_then(|post| post.request_body.as_mut())
        .and_then(|body| body.content.get_mut("application/json"))
        .unwrap_or_else(|| panic!("the OpenAPI document has no JSON body for {path}"));
    let named = ObjectBuilder::new()
        .required("workerId")
        .property(
            "workerId",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1)),
        )
        .build();
    let body = AllOfBuilder::new()
        .item(Ref::from_schema_name("SubmitResultRequest"))
        .item(named)
        .build();
    content.schema = Some(RefOr::T(Schema::AllOf(body)));
}

/// Every limit the checks enforce, with where it applies.
fn limits() -> Vec<(Target, Limit)> {
    use Target::{Parameter, Property, Variant};
    let worker_id = || text(1, validate::MAX_WORKER_ID_LEN, Some(patterns::worker_id()));
    let job_id = || text(36, 36, Some(patterns::JOB_ID.into()));
    let attempt = || int(Some(1), None);
    let cpu_usage = || real(0.0, false, validate::MAX_CPU_USAGE);
    let name = || text(1, validate::MAX_NAME_BYTES, None);
    let time = || text(1, 64, Some(patterns::TIME.into()));
    let batch = || items(1, batch::MAX_BATCH_ITEMS);
    let env = Limit::Map {
        max: validate::MAX_ENV_VARS,
        names: Some(Box::new(text(
            1,
            validate::MAX_NAME_BYTES,
            Some(patterns::ENV_NAME.into()),
        ))),
        values: Some(Box::new(text(
            0,
            validate::MAX_ENV_VALUE_BYTES,
            Some(patterns::ENV_VALUE.into()),
        ))),
    };
    let groupings = format!("^(?:{})$", reports::GROUPINGS.join("|"));
    vec![
        // A job, alone or in a batch.
        (
            Property("CreateJobRequest", "command"),
            text(
                1,
                validate::MAX_COMMAND_BYTES,
                Some(patterns::NOT_BLANK.into()),
            ),
        ),
        (
            Property("CreateJobRequest", "image"),
            text(1, validate::MAX_NAME_BYTES, Some(patterns::image())),
        ),
        (
            Property("CreateJobRequest", "fileUrl"),
            text(1, validate::MAX_FILE_URL_BYTES, Some(patterns::file_url())),
        ),
        (
            Property("CreateJobRequest", "filename"),
            text(1, validate::MAX_NAME_BYTES, Some(patterns::FILENAME.into())),
        ),
        (Property("CreateJobRequest", "env"), env),
        (
            Property("CreateJobRequest", "requiredCpu"),
            real(0.0, true, validate::MAX_JOB_CPU),
        ),
        (
            Property("CreateJobRequest", "requiredRamMb"),
            int(
                Some(validate::MIN_JOB_RAM_MB),
                Some(validate::MAX_JOB_RAM_MB),
            ),
        ),
        (
            Property("CreateJobRequest", "timeoutMs"),
            int(Some(1), Some(validate::MAX_JOB_TIMEOUT_MS)),
        ),
        (
            Property("CreateJobRequest", "maxRetries"),
            int(Some(0), Some(validate::MAX_RETRIES)),
        ),
        (
            Property("CreateJobRequest", "priority"),
            int(Some(-validate::MAX_PRIORITY), Some(validate::MAX_PRIORITY)),
        ),
        (Property("CreateJobRequest", "idempotencyKey"), name()),
        (Variant("RunAt", 0), int(Some(0), None)),
        (Variant("RunAt", 1), time()),
        (Property("CreateJobsRequest", "jobs"), batch()),
        (Property("CancelJobRequest", "jobId"), job_id()),
        // The fleet.
        (Property("RegisterWorkerRequest", "workerId"), worker_id()),
        (
            Property("RegisterWorkerRequest", "hostname"),
            text(
                1,
                validate::MAX_NAME_BYTES,
                Some(patterns::NOT_BLANK.into()),
            ),
        ),
        (
            Property("RegisterWorkerRequest", "cpuCores"),
            real(0.0, true, validate::MAX_WORKER_CPU_CORES),
        ),
        (
            Property("RegisterWorkerRequest", "ramTotalMb"),
            int(Some(1), Some(validate::MAX_JOB_RAM_MB)),
        ),
        (
            Property("RegisterWorkerRequest", "ramFreeMb"),
            int(Some(0), None),
        ),
        (Property("RegisterWorkerRequest", "cpuUsage"), cpu_usage()),
        (
            Property("RegisterWorkerRequest", "maxParallelJobs"),
            int(Some(1), Some(validate::MAX_PARALLEL_JOBS)),
        ),
        (
            Property("RegisterWorkerRequest", "labels"),
            Limit::Map {
                max: workers::MAX_LABELS,
                names: None,
                values: None,
            },
        ),
        (
            Property("RegisterWorkerRequest", "executor"),
            text(1, 16, Some("^(?:docker|process)$".into())),
        ),
        (Property("HeartbeatRequest", "workerId"), worker_id()),
        (Property("HeartbeatRequest", "cpuUsage"), cpu_usage()),
        (
            Property("HeartbeatRequest", "ramFreeMb"),
            int(Some(0), None),
        ),
        (
            Property("HeartbeatRequest", "ramTotalMb"),
            int(Some(0), Some(validate::MAX_JOB_RAM_MB)),
        ),
        (
            Property("HeartbeatRequest", "images"),
            items(0, validate::MAX_IMAGES_HELD),
        ),
        (Property("ImageHeld", "reference"), name()),
        (Property("ImageHeld", "digest"), name()),
        // The worker protocol.
        (Property("GetJobRequest", "workerId"), worker_id()),
        (
            Property("GetJobRequest", "max"),
            int(Some(0), Some(delivery::MAX_JOBS_PER_POLL)),
        ),
        (
            Property("GetJobRequest", "waitMs"),
            int(Some(0), Some(delivery::MAX_WAIT_MS)),
        ),
        (
            Property("GetJobRequest", "results"),
            items(0, batch::MAX_BATCH_ITEMS),
        ),
        (Property("StartJobRequest", "workerId"), worker_id()),
        (Property("StartJobRequest", "jobId"), job_id()),
        (Property("StartJobRequest", "attempt"), attempt()),
        (Property("StartJobsRequest", "workerId"), worker_id()),
        (Property("StartJobsRequest", "jobs"), batch()),
        (Property("JobAttempt", "jobId"), job_id()),
        (Property("JobAttempt", "attempt"), attempt()),
        // In a batch a result may leave its workerId out or empty; the single route needs it
        // (see `single_result_names_its_worker`).
        (
            Property("SubmitResultRequest", "workerId"),
            text(
                0,
                validate::MAX_WORKER_ID_LEN,
                Some(patterns::worker_id_or_empty()),
            ),
        ),
        (Property("SubmitResultRequest", "jobId"), job_id()),
        (Property("SubmitResultRequest", "attempt"), attempt()),
        (
            Property("SubmitResultRequest", "durationMs"),
            int(Some(0), None),
        ),
        (Property("SubmitResultsRequest", "workerId"), worker_id()),
        (Property("SubmitResultsRequest", "results"), batch()),
        (
            Property("AttemptUsage", "cpuSeconds"),
            real(0.0, false, usage::MAX_SECONDS),
        ),
        (
            Property("AttemptUsage", "peakMemoryMb"),
            real(0.0, false, usage::MAX_MEMORY_MB),
        ),
        (
            Property("AttemptUsage", "pullMs"),
            int(Some(0), Some(usage::MAX_MS)),
        ),
        (
            Property("AttemptUsage", "runMs"),
            int(Some(0), Some(usage::MAX_MS)),
        ),
        // Query and path parameters.
        (Parameter("/api/jobs/status", "jobId"), job_id()),
        (
            Parameter("/api/jobs/list", "status"),
            text(0, 1024, Some(patterns::job_statuses())),
        ),
        (Parameter("/api/jobs/list", "workerId"), worker_id()),
        (Parameter("/api/jobs/list", "from"), time()),
        (Parameter("/api/jobs/list", "to"), time()),
        (Parameter("/api/jobs/list", "cursor"), job_id()),
        (
            Parameter("/api/jobs/list", "limit"),
            int(Some(1), Some(jobs::MAX_LIST_LIMIT)),
        ),
        (Parameter("/api/reports/summary", "from"), time()),
        (Parameter("/api/reports/summary", "to"), time()),
        (
            Parameter("/api/reports/summary", "groupBy"),
            text(1, 16, Some(groupings)),
        ),
        (
            Parameter("/api/execute", "waitMs"),
            int(Some(0), Some(execute::MAX_WAIT_MS)),
        ),
        (Parameter("/uploads/{id}/{filename}", "id"), job_id()),
    ]
}

fn int(min: Option<i64>, max: Option<i64>) -> Limit {
    Limit::Integer(min, max)
}

fn real(min: f64, exclusive: bool, max: f64) -> Limit {
    Limit::Number {
        min,
        exclusive,
        max,
    }
}

fn text(min: usize, max: usize, pattern: Option<String>) -> Limit {
    Limit::Text { min, max, pattern }
}

fn items(min: usize, max: usize) -> Limit {
    Limit::Items { min, max }
}

/// The schema a target names, when the document has it inline.
fn find(doc: &mut OpenApi, target: Target) -> Option<&mut Schema> {
    match target {
        Target::Property(schema, property) => {
            let components = doc.components.as_mut()?;
            match inline(components.schemas.get_mut(schema)?)? {
                Schema::Object(object) => inline(object.properties.get_mut(property)?),
                _ => None,
            }
        }
        Target::Variant(schema, index) => {
            let components = doc.components.as_mut()?;
            match inline(components.schemas.get_mut(schema)?)? {
                Schema::OneOf(one_of) => inline(one_of.items.get_mut(index)?),
                _ => None,
            }
        }
        Target::Parameter(path, name) => {
            let item = doc.paths.paths.get_mut(path)?;
            let operations: [&mut Option<Operation>; 2] = [&mut item.get, &mut item.post];
            let parameter = operations
                .into_iter()
                .filter_map(|o| o.as_mut()?.parameters.as_mut())
                .flatten()
                .find(|p| p.name == name)?;
            inline(parameter.schema.as_mut()?)
        }
    }
}

/// The schema itself, when it is not a reference.
fn inline(schema: &mut RefOr<Schema>) -> Option<&mut Schema> {
    match schema {
        RefOr::T(schema) => Some(schema),
        RefOr::Ref(_) => None,
    }
}

/// Writes `limit` into `schema`, or says why it does not fit.
fn apply(schema: &mut Schema, limit: &Limit) -> Result<(), String> {
    let int = |n: i64| Number::Int(n as isize);
    match (schema, limit) {
        (Schema::Object(o), Limit::Integer(min, max)) => {
            o.minimum = min.map(int);
            o.maximum = max.map(int);
        }
        (
            Schema::Object(o),
            Limit::Number {
                min,
                exclusive,
                max,
            },
        ) => {
            if *exclusive {
                o.exclusive_minimum = Some(Number::Float(*min));
            } else {
                o.minimum = Some(Number::Float(*min));
            }
            o.maximum = Some(Number::Float(*max));
        }
        (Schema::Object(o), Limit::Text { min, max, pattern }) => {
            o.min_length = (*min > 0).then_some(*min);
            o.max_length = Some(*max);
            o.pattern.clone_from(pattern);
        }
        (Schema::Array(a), Limit::Items { min, max }) => {
            a.min_items = (*min > 0).then_some(*min);
            a.max_items = Some(*max);
        }
        (Schema::Object(o), Limit::Map { max, names, values }) => {
            o.max_properties = Some(*max);
            if let Some(names) = names {
                let mut name =
                    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build());
                apply(&mut name, names)?;
                o.property_names = Some(Box::new(name));
            }
            if let Some(values) = values {
                match o.additional_properties.as_deref_mut() {
                    Some(AdditionalProperties::RefOr(RefOr::T(value))) => apply(value, values)?,
                    _ => return Err("the map's values are not an inline schema".into()),
                }
            }
        }
        (_, limit) => return Err(format!("this schema cannot take {limit:?}")),
    }
    Ok(())
}
