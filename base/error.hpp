#pragma once
// The error hierarchy of every component. One base, spikesim::Error, with two kinds:
//   - UserError: bad input, a bad option, a file that cannot be read or written. The message names the thing
//     (file, tensor, key, option) and what was expected vs found; the CLI prints it and exits with status 1.
//   - InternalError: a broken invariant inside spikesim (a bug); the CLI asks for a report.
// Each component derives its own user-error class (models::ModelError, coding::CodingError, ...), so callers
// can catch a component's errors, or every user error at once, without parsing messages.

#include <stdexcept>
#include <string>

namespace spikesim {

class Error : public std::runtime_error {
 public:
  enum class Kind { user, internal };
  Error(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class UserError : public Error {
 public:
  explicit UserError(const std::string& message) : Error(Kind::user, message) {}
};

class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error(Kind::internal, message) {}
};

// Bad command-line or API arguments (an option value, a combination of options).
class UsageError : public UserError {
 public:
  using UserError::UserError;
};

// Output that cannot be written (directory, disk full, a second run into the same --out), or a stored
// output (a compare cell) that cannot be read back.
class OutputError : public UserError {
 public:
  using UserError::UserError;
};

}  // namespace spikesim
