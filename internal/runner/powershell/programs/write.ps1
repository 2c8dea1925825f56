# Stead: write file. Write the content to the path (relative to the profile) under a temporary name, then rename it into place; print the absolute path.
@COMMON@
$path = [string]$p.path
if (-not [IO.Path]::IsPathRooted($path)) { $path = Join-Path $env:USERPROFILE $path }
$dir = Split-Path -Parent $path
New-Item -ItemType Directory -Force -Path $dir | Out-Null
$tmp = Join-Path $dir ('.' + (Split-Path -Leaf $path) + '.stead-' + [guid]::NewGuid().ToString('N'))
try {
	[IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String([string]$p.content))
	Move-Item -LiteralPath $tmp -Destination $path -Force
} catch {
	Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
	throw
}
Send-Text $path
$out.Flush()
