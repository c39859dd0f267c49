#include "common/metrics/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace fleet::metrics {
namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendSample(std::string& out, const std::string& name, const std::string& labels,
                  const std::string& value) {
  absl::StrAppend(&out, name, labels, " ", value, "\n");
}

class CallbackFamily final : public FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, MetricType type,
                 std::vector<std::string> label_names, std::function<std::vector<Sample>()> collect)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        collect_(std::move(collect)) {}

 protected:
  void WriteSamples(std::string& out) const override {
    for (const Sample& sample : collect_()) {
      AppendSample(out, name(), FormatLabels(label_names(), sample.label_values),
                   FormatValue(sample.value));
    }
  }

 private:
  const std::function<std::vector<Sample>()> collect_;
};

}  // namespace

void FamilyBase::Write(std::string& out) const {
  absl::StrAppend(&out, "# HELP ", name_, " ", EscapeHelp(help_), "\n");
  absl::StrAppend(&out, "# TYPE ", name_, " ", TypeName(type_), "\n");
  WriteSamples(out);
}

template <>
void Family<Counter>::WriteSamples(std::string& out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [values, counter] : children_) {
    AppendSample(out, name(), FormatLabels(label_names(), values), absl::StrCat(counter->value()));
  }
}

template <>
void Family<Gauge>::WriteSamples(std::string& out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [values, gauge] : children_) {
    AppendSample(out, name(), FormatLabels(label_names(), values), FormatValue(gauge->value()));
  }
}

template <>
void Family<Histogram>::WriteSamples(std::string& out) const {
  absl::MutexLock lock(&mu_);
  const std::string bucket = absl::StrCat(name(), "_bucket");
  for (const auto& [values, histogram] : children_) {
    const Histogram::Snapshot snapshot = histogram->Read();
    const std::vector<double>& bounds = histogram->bounds();
    for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
      const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
      AppendSample(out, bucket, FormatLabels(label_names(), values, "le", le),
                   absl::StrCat(snapshot.cumulative[i]));
    }
    const std::string labels = FormatLabels(label_names(), values);
    AppendSample(out, absl::StrCat(name(), "_sum"), labels, FormatValue(snapshot.sum));
    AppendSample(out, absl::StrCat(name(), "_count"), labels, absl::StrCat(snapshot.count));
  }
}

FamilyBase* Registry::Find(std::string_view name, MetricType type,
                           const std::vector<std::string>& label_names) {
  for (const std::unique_ptr<FamilyBase>& family : exposed_) {
    if (family->name() != name) continue;
    if (family->type() == type && family->label_names() == label_names) return family.get();
    return nullptr;
  }
  return nullptr;
}

FamilyBase& Registry::Keep(std::unique_ptr<FamilyBase> family) {
  for (const std::unique_ptr<FamilyBase>& exposed : exposed_) {
    if (exposed->name() == family->name()) return *clashed_.emplace_back(std::move(family));
  }
  return *exposed_.emplace_back(std::move(family));
}

template <typename T>
Family<T>& Registry::GetOrAdd(std::string_view name, std::string_view help, MetricType type,
                              std::vector<std::string> label_names,
                              std::function<std::unique_ptr<T>()> make) {
  absl::MutexLock lock(&mu_);
  // A callback family of the same name and type is no Family<T>: a clash like any other.
  if (FamilyBase* found = Find(name, type, label_names)) {
    if (auto* family = dynamic_cast<Family<T>*>(found)) return *family;
  }
  return static_cast<Family<T>&>(Keep(std::make_unique<Family<T>>(
      std::string(name), std::string(help), type, std::move(label_names), std::move(make))));
}

Family<Counter>& Registry::AddCounterFamily(std::string_view name, std::string_view help,
                                            std::vector<std::string> label_names) {
  return GetOrAdd<Counter>(name, help, MetricType::kCounter, std::move(label_names),
                           [] { return std::make_unique<Counter>(); });
}

Counter& Registry::AddCounter(std::string_view name, std::string_view help) {
  return AddCounterFamily(name, help, {}).WithLabels({});
}

Family<Gauge>& Registry::AddGaugeFamily(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names) {
  return GetOrAdd<Gauge>(name, help, MetricType::kGauge, std::move(label_names),
                         [] { return std::make_unique<Gauge>(); });
}

Gauge& Registry::AddGauge(std::string_view name, std::string_view help) {
  return AddGaugeFamily(name, help, {}).WithLabels({});
}

Family<Histogram>& Registry::AddHistogramFamily(std::string_view name, std::string_view help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds) {
  return GetOrAdd<Histogram>(
      name, help, MetricType::kHistogram, std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
}

Histogram& Registry::AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> bounds) {
  return AddHistogramFamily(name, help, {}, std::move(bounds)).WithLabels({});
}

void Registry::AddCallback(std::string_view name, std::string_view help, MetricType type,
                           std::vector<std::string> label_names,
                           std::function<std::vector<Sample>()> collect) {
  absl::MutexLock lock(&mu_);
  Keep(std::make_unique<CallbackFamily>(std::string(name), std::string(help), type,
                                        std::move(label_names), std::move(collect)));
}

std::string Registry::Expose() const {
  // Families are never removed, so the pointers outlive the lock; callbacks run without it.
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(exposed_.size());
    for (const std::unique_ptr<FamilyBase>& family : exposed_) families.push_back(family.get());
  }
  std::string out;
  for (const FamilyBase* family : families) family->Write(out);
  return out;
}

Registry& RegistryOr(Registry* given, std::unique_ptr<Registry>& own) {
  if (given != nullptr) return *given;
  if (own == nullptr) own = std::make_unique<Registry>();
  return *own;
}

}  // namespace fleet::metrics
