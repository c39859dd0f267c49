// A set of metrics and their Prometheus text exposition (text_format.h). Instruments are created
// through the registry, which owns them and keeps their addresses stable for its whole life, so
// that a component resolves each instrument (or each labelled child of a family) once and then
// records with an atomic add: no lookup, no lock on the hot path. Values computed only when
// scraped (how many agents are connected, the store's revision, the process's memory) come from
// callbacks.
//
// Registering a name again returns the same family when the type and label names match, so that
// several components (two listeners, say) can each ask for the one family they share. A mismatch
// is a programming error: the caller gets a family of its own that is never exposed.
//
// A component takes a `Registry*` in its options and, when given none, records into a private
// registry of its own (tests need no metrics).
#ifndef FLEETD_COMMON_METRICS_REGISTRY_H_
#define FLEETD_COMMON_METRICS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/histogram.h"
#include "common/metrics/instruments.h"

namespace fleet::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// What every family has; Registry::Expose writes them.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the family's HELP, TYPE and sample lines to `out`.
  void Write(std::string& out) const;

 protected:
  // Appends the sample lines only.
  virtual void WriteSamples(std::string& out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// One metric name with a child instrument per combination of label values. Thread-safe.
template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        make_(std::move(make)) {}

  // The child for `values`, one per label name in order (missing ones are empty, extra ones
  // ignored), created at zero on first use and alive as long as the family. Takes a lock: call
  // it once and keep the reference.
  T& WithLabels(std::vector<std::string> values) {
    values.resize(label_names().size());
    absl::MutexLock lock(&mu_);
    std::unique_ptr<T>& child = children_[std::move(values)];
    if (child == nullptr) child = make_();
    return *child;
  }

 protected:
  void WriteSamples(std::string& out) const override;

 private:
  const std::function<std::unique_ptr<T>()> make_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

template <>
void Family<Counter>::WriteSamples(std::string& out) const;
template <>
void Family<Gauge>::WriteSamples(std::string& out) const;
template <>
void Family<Histogram>::WriteSamples(std::string& out) const;

// One sample a callback family reports at scrape time.
struct Sample {
  std::vector<std::string> label_values;  // one per label name, in order
  double value = 0;
};

// Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Families, and the single instrument of a family without labels.
  Family<Counter>& AddCounterFamily(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names);
  Counter& AddCounter(std::string_view name, std::string_view help);
  Family<Gauge>& AddGaugeFamily(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names);
  Gauge& AddGauge(std::string_view name, std::string_view help);
  // Every child has the buckets `bounds` (see Histogram).
  Family<Histogram>& AddHistogramFamily(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds);
  Histogram& AddHistogram(std::string_view name, std::string_view help, std::vector<double> bounds);

  // A counter or gauge family (`type` must not be kHistogram) whose samples `collect` returns
  // at each scrape, called with no lock of the registry held. `collect` must stay callable for
  // the registry's life (make it return nothing once what it reads is gone) and be thread-safe.
  void AddCallback(std::string_view name, std::string_view help, MetricType type,
                   std::vector<std::string> label_names,
                   std::function<std::vector<Sample>()> collect);

  // Every family in the order it was registered, in the text format, version 0.0.4.
  std::string Expose() const;

 private:
  // The family called `name` if it has `type` and `label_names`; else nullptr.
  FamilyBase* Find(std::string_view name, MetricType type,
                   const std::vector<std::string>& label_names) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps `family`, exposed unless its name is taken already.
  FamilyBase& Keep(std::unique_ptr<FamilyBase> family) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename T>
  Family<T>& GetOrAdd(std::string_view name, std::string_view help, MetricType type,
                      std::vector<std::string> label_names,
                      std::function<std::unique_ptr<T>()> make);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> exposed_ ABSL_GUARDED_BY(mu_);
  // Families whose registration clashed with an exposed one: alive, never written.
  std::vector<std::unique_ptr<FamilyBase>> clashed_ ABSL_GUARDED_BY(mu_);
};

// `given` if not null; else `own`, created on first use: for components whose options may name
// no registry.
Registry& RegistryOr(Registry* given, std::unique_ptr<Registry>& own);

}  // namespace fleet::metrics

#endif  // FLEETD_COMMON_METRICS_REGISTRY_H_
