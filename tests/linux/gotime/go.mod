module gotime
go 1.19
