#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/man_page.h"

namespace fleet::cli {

void AddDocsCommand(CLI::App& app, CommandAction* action) {
  CLI::App* docs = AddGroup(app, "docs", "Generate fleetctl's documentation from its commands.");
  auto dir = std::make_shared<std::string>();
  CLI::App* man = AddCommandWithArg(
      *docs, "man",
      "Write manual pages (roff) into DIR: fleetctl.1 and one per command, e.g. "
      "fleetctl-get-policies.1. Read one with: man -l DIR/fleetctl.1, or add DIR's parent to "
      "MANPATH after writing into its man1.",
      "DIR", "The directory to write into; created if missing.", dir.get());
  man->get_option("DIR")->type_name("DIR");
  SetExamples(docs, {"fleetctl docs man ~/.local/share/man/man1"});
  SetExamples(man, {"fleetctl docs man ~/.local/share/man/man1 && man fleetctl-get-policies",
                    "fleetctl docs man /tmp/man && man -l /tmp/man/fleetctl.1"});
  OnLocalCommand(man, action, [&app, dir](std::ostream& out) {
    if (absl::Status written = WriteManPages(app, "fleetctl " FLEETD_VERSION, *dir);
        !written.ok()) {
      return written;
    }
    out << "manual pages written to " << *dir << "\n";
    return absl::OkStatus();
  });
}

}  // namespace fleet::cli
