# Sourced by the test commands (helper_: not a command itself).
log=/tmp/composer.log
