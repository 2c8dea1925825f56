# Stead: fetch. Print the size of one stream file of a run, then its first bytes; exit 3 if it is gone.
@COMMON@
$f = Join-Path $d $p.stream
if (-not (Test-Path -LiteralPath $f -PathType Leaf)) { exit 3 }
Send-Text ("{0}`n" -f (Get-Size $f))
Copy-Head $f $p.limit $out
$out.Flush()
exit 0
