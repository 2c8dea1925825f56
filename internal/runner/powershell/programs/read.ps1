# Stead: read file. Print the first bytes of a file (relative to the profile); exit 3 if it is missing, 4 if it cannot be read, 5 if it is not a file.
@COMMON@
$path = [string]$p.path
if (-not [IO.Path]::IsPathRooted($path)) { $path = Join-Path $env:USERPROFILE $path }
if (-not (Test-Path -LiteralPath $path)) { exit 3 }
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { exit 5 }
try {
	Copy-Head $path $p.limit $out
} catch [UnauthorizedAccessException] {
	exit 4
}
$out.Flush()
exit 0
